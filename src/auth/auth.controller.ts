import { Body, Controller, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { AuthService } from './auth.service.js';
import { bearerToken, clientInfo } from './client-info.js';
import { ApiRefreshTokenBody, Auth, BEARER_SCHEME, CookieAuthenticated, CurrentUser, Public } from './decorators/auth.decorators.js';
import { ChangePasswordDto, LoginDto, ReauthenticateDto, RefreshTokenBodyDto } from './dto/credentials.dto.js';
import { ReauthenticatedTokenDto, TokenResponseDto } from './dto/token-response.dto.js';
import { AuthCookies } from './auth-cookies.js';
import { PasskeyAuthService } from './passkey-auth.service.js';
import { PasskeysService } from './passkeys/passkeys.service.js';
import { Problems } from '../common/problems/problem.js';
import type { AuthenticatedUser } from './tokens/access-token.js';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly cookies: AuthCookies,
    private readonly passkeys: PasskeyAuthService,
    private readonly passkeyCeremonies: PasskeysService,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in',
    description:
      'Returns an access token in the body and sets the refresh token as an HttpOnly cookie (path /auth), plus a device cookie. ' +
      'With `client: "native"` both come in the body instead (`refreshToken`, `deviceToken`). Rate limited per IP (every attempt) and ' +
      'per account (failed password checks only); a device token from an earlier login of the account exempts its holder from the ' +
      'per-account lockout. Bodies refused by validation count for nothing.',
  })
  @ApiOkResponse({
    type: TokenResponseDto,
    headers: { 'Set-Cookie': { description: 'The refresh token cookie and the device cookie (browsers)' } },
  })
  @ApiProblems([400, 401, 403, 413, 429, 503], {
    401: 'Unknown email, wrong password or disabled account, alike (`invalid_credentials`)',
    403: 'REQUIRE_VERIFIED_EMAIL is on and the address is not verified yet; only after the right password (`email_unverified`)',
  })
  async login(
    @Body() body: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const result = await this.auth.login(body.email, body.password, clientInfo(request), this.cookies.presentedDevice(request, body));
    return this.cookies.respond(reply, result, body.client === 'native');
  }

  @Public()
  @RateLimit('public')
  @CookieAuthenticated()
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Log out of this session',
    description:
      'Identifies the session by the Bearer access token, or else by the refresh cookie (or body, for native clients). ' +
      'Its tokens stop working at once. Presenting an older refresh token of the session ends it too.',
  })
  // Bearer, or else the refresh cookie (no security scheme, see ApiRefreshTokenBody): either is enough.
  @ApiSecurity({})
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiRefreshTokenBody()
  @ApiNoContentResponse({ description: 'Session ended; the refresh cookie is cleared' })
  @ApiProblems([400, 401, 503], {
    401: 'No usable token (`missing_token`, `invalid_token`, `token_expired`, `invalid_refresh_token`); the cookie is cleared',
  })
  async logout(
    @Body() body: RefreshTokenBodyDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    // Cleared when the session ended and after a 401; kept on a 503 (the session may be alive, the user may retry).
    await this.cookies.withRefreshToken(
      request,
      body,
      reply,
      ({ token }) => this.auth.logout(bearerToken(request), token, clientInfo(request)),
      { ending: true },
    );
  }

  @Auth()
  @Post('logout-all-devices')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Log out everywhere',
    description: 'Ends every session of the user, this one included; all their tokens stop working at once.',
  })
  @ApiNoContentResponse({ description: 'All sessions ended; the refresh cookie is cleared' })
  async logoutAllDevices(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logoutAllDevices(user, clientInfo(request));
    this.cookies.clear(reply);
  }

  @RateLimit('password')
  @Post('reauthenticate')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Prove who you are again (step-up)',
    description:
      'For routes that need a recent authentication (401 `reauthentication_required`): checks the password, or a passkey assertion ' +
      '(`response`, for the options of `POST /auth/reauthenticate/options`), and answers a new access token for the *same* session, ' +
      'with a new `auth_time` and what this proof is worth (a password alone: `amr` ["pwd"], `acr` urn:tessera:aal1; a passkey: ' +
      '`hwk` or `swk`, plus `user` and `mfa` at aal2 when the user was verified), replacing what the session had. Send exactly one of ' +
      '`password` and `response`. The refresh token does not change, and earlier access tokens of the ' +
      'session keep working where no recent authentication is needed. Wrong passwords count against the account like failed logins; ' +
      "the device token (the browser's cookie, or `deviceToken` in a native client's body) exempts it from a lockout that " +
      "others' failed attempts caused, as at login.",
  })
  @ApiBody({
    type: ReauthenticateDto,
    examples: {
      password: { summary: 'With the account password', value: { password: 'correct horse battery staple' } },
      passkey: {
        summary: 'With a passkey (options from POST /auth/reauthenticate/options)',
        value: { response: { id: 'hV8kQ0m2Yw3tC1nR5sJ7aQ', rawId: 'hV8kQ0m2Yw3tC1nR5sJ7aQ', type: 'public-key', response: {} } },
      },
    },
  })
  @ApiOkResponse({ type: ReauthenticatedTokenDto })
  @ApiProblems([400, 401, 413, 429, 503], {
    401:
      'Wrong password (`invalid_credentials`); a passkey that does not verify, is not yours, or answers a challenge not of this ' +
      'session (`invalid_passkey`); or a missing, invalid or expired access token, or its session has ended ' +
      '(`missing_token`, `invalid_token`, `token_expired`, `session_revoked`)',
    429: 'Too many attempts for this user or account, including failed logins (`rate_limited`, with `Retry-After`)',
  })
  // Below the 401 documentation above, which names invalid_credentials too: the upper decorator's wins.
  @Auth()
  async reauthenticate(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ReauthenticateDto,
    @Req() request: FastifyRequest,
  ): Promise<ReauthenticatedTokenDto> {
    if ((body.password === undefined) === (body.response === undefined)) {
      throw Problems.validation([{ field: 'body', message: 'send exactly one of password and response' }]);
    }
    const { accessToken, expiresIn } =
      body.response !== undefined
        ? await this.passkeys.reauthenticate(user, body.response, this.passkeyCeremonies.relyingParty(request), clientInfo(request))
        : // The device token (browsers' cookie, native clients' body field) exempts its holder from a lockout others caused, as at login.
          await this.auth.reauthenticate(user, body.password!, clientInfo(request), this.cookies.presentedDevice(request, body));
    return { accessToken, tokenType: 'Bearer', expiresIn };
  }

  @Auth()
  @RateLimit('password')
  @Post('password')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Change password',
    description:
      'The new password must pass the password policy (see `newPassword`). Every other session of the user ends at once; this one stays. ' +
      'A refused new password changes nothing.',
  })
  @ApiNoContentResponse({ description: 'Password changed' })
  @ApiProblems([400, 503], {
    400: 'Invalid body, or `currentPassword` is incorrect (`validation_failed`); a new password the policy refuses (`weak_password`)',
    503: 'Too many passwords being hashed right now, or a backing service is down (`service_unavailable`, with `Retry-After`)',
  })
  async changePassword(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ChangePasswordDto,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.auth.changePassword(user, body.currentPassword, body.newPassword, clientInfo(request));
  }
}
