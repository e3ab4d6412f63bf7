import { Body, Controller, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { Problems } from '../common/problems/problem.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { AuthService, type MfaChallenge, type ReauthenticationProofs } from './auth.service.js';
import { bearerToken, clientInfo } from './client-info.js';
import {
  AllowWithoutSecondFactor,
  ApiRefreshTokenBody,
  Auth,
  BEARER_SCHEME,
  CookieAuthenticated,
  CurrentUser,
  Public,
} from './decorators/auth.decorators.js';
import { ChangePasswordDto, LoginDto, MfaLoginDto, ReauthenticateDto, RefreshTokenBodyDto } from './dto/credentials.dto.js';
import { MfaChallengeDto, ReauthenticatedTokenDto, TokenResponseDto } from './dto/token-response.dto.js';
import { AuthCookies } from './auth-cookies.js';
import { PasskeyAuthService } from './passkey-auth.service.js';
import { PasskeysService } from './passkeys/passkeys.service.js';
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
      'per-account lockout. Bodies refused by validation count for nothing.\n\n' +
      'For an account with an authenticator app (TOTP), the right password answers `{mfaRequired: true, mfaToken, methods}` ' +
      'instead, with no token and no cookie: send the mfaToken and a code to POST /auth/login/mfa.',
  })
  @ApiExtraModels(TokenResponseDto, MfaChallengeDto)
  @ApiOkResponse({
    description: 'Logged in (`TokenResponseDto`), or a second factor is needed (`MfaChallengeDto`)',
    schema: { oneOf: [{ $ref: getSchemaPath(TokenResponseDto) }, { $ref: getSchemaPath(MfaChallengeDto) }] },
    headers: { 'Set-Cookie': { description: 'The refresh token cookie and the device cookie (browsers, and only with the tokens)' } },
  })
  @ApiProblems([400, 401, 403, 413, 429, 503], {
    401: 'Unknown email, wrong password or disabled account, alike (`invalid_credentials`)',
    403: 'REQUIRE_VERIFIED_EMAIL is on and the address is not verified yet; only after the right password (`email_unverified`)',
  })
  async login(
    @Body() body: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto | MfaChallenge> {
    const native = body.client === 'native';
    const result = await this.auth.login(
      body.email,
      body.password,
      clientInfo(request),
      this.cookies.presentedDevice(request, body),
      native,
    );
    if ('mfaRequired' in result) {
      reply.header('Cache-Control', 'no-store');
      return result;
    }
    return this.cookies.respond(reply, result, native);
  }

  @Public()
  @Post('login/mfa')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in: the second factor',
    description:
      'The second step of a login that answered `mfaRequired`: the `mfaToken` with the current code of the authenticator app ' +
      '(`code`) or one recovery code (`recoveryCode`), not both. Answers like a login (cookie or native body, as the first step ' +
      'asked), with `amr` ["pwd", "otp", "mfa"] and `acr` urn:tessera:aal2. The mfaToken is single-use, lives 5 minutes and dies ' +
      'after 5 wrong codes; wrong codes are limited per account, every attempt per IP.',
  })
  @ApiBody({
    type: MfaLoginDto,
    examples: {
      code: { summary: 'With the app’s code', value: { mfaToken: 'Qm9vdHN0cmFwIHRoZSBzZWNvbmQgc3RlcCBvZiBhIGxvZ2luIQ', code: '123456' } },
      recoveryCode: {
        summary: 'With a recovery code',
        value: { mfaToken: 'Qm9vdHN0cmFwIHRoZSBzZWNvbmQgc3RlcCBvZiBhIGxvZ2luIQ', recoveryCode: '7K3M-Q9TX-2HNB' },
      },
    },
  })
  @ApiOkResponse({
    type: TokenResponseDto,
    headers: { 'Set-Cookie': { description: 'The refresh token cookie and the device cookie (browsers)' } },
  })
  @ApiProblems([400, 401, 413, 429, 503], {
    400: 'Invalid body, or not exactly one of `code` and `recoveryCode` (`validation_failed`)',
    401:
      'Wrong, expired or used code (`invalid_code`); the mfaToken is unknown, expired, used or dead after 5 wrong codes ' +
      '(`invalid_mfa_token`); the account was disabled meanwhile (`invalid_credentials`)',
    429: 'Too many attempts from this IP or wrong codes for this account (`rate_limited`, with `Retry-After`)',
  })
  async loginMfa(
    @Body() body: MfaLoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    if ((body.code === undefined) === (body.recoveryCode === undefined)) {
      throw Problems.validation([{ field: 'code', message: 'send exactly one of code and recoveryCode' }]);
    }
    const proof = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recoveryCode! };
    const { issued, native } = await this.auth.completeMfaLogin(body.mfaToken, proof, clientInfo(request));
    return this.cookies.respond(reply, issued, native);
  }

  @Public()
  @AllowWithoutSecondFactor()
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
  @AllowWithoutSecondFactor()
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
  @AllowWithoutSecondFactor()
  @Post('reauthenticate')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Prove who you are again (step-up)',
    description:
      'For routes that need a recent authentication (401 `reauthentication_required`): checks what you send and answers a new ' +
      'access token for the *same* session, with a new `auth_time` and what this proof is worth, replacing what the session had: ' +
      '`{password}` → `amr` ["pwd"], urn:tessera:aal1; `{code}` (authenticator app) → ["otp"], aal1; `{password, code}` or ' +
      '`{password, recoveryCode}` → ["pwd", "otp", "mfa"], urn:tessera:aal2 (what `acr_values="urn:tessera:aal2"` asks for); ' +
      '`{response}` (a passkey assertion for the options of `POST /auth/reauthenticate/options`) → `hwk` or `swk`, plus `user` and ' +
      '`mfa` at aal2 when the user was verified. ' +
      'The refresh token does not change, and earlier access tokens of the session keep working where no recent authentication is ' +
      'needed. Wrong passwords and wrong codes count against the account like failed logins; ' +
      "the device token (the browser's cookie, or `deviceToken` in a native client's body) exempts it from a lockout that " +
      "others' failed attempts caused, as at login.",
  })
  @ApiBody({
    type: ReauthenticateDto,
    examples: {
      password: { summary: 'With the account password (aal1)', value: { password: 'correct horse battery staple' } },
      code: { summary: 'With the authenticator app’s code (aal1)', value: { code: '123456' } },
      passwordAndCode: { summary: 'Password and code (aal2)', value: { password: 'correct horse battery staple', code: '123456' } },
      passwordAndRecoveryCode: {
        summary: 'Password and a recovery code (aal2)',
        value: { password: 'correct horse battery staple', recoveryCode: '7K3M-Q9TX-2HNB' },
      },
      passkey: {
        summary: 'With a passkey (options from POST /auth/reauthenticate/options)',
        value: { response: { id: 'hV8kQ0m2Yw3tC1nR5sJ7aQ', rawId: 'hV8kQ0m2Yw3tC1nR5sJ7aQ', type: 'public-key', response: {} } },
      },
    },
  })
  @ApiOkResponse({ type: ReauthenticatedTokenDto })
  @ApiProblems([400, 401, 409, 413, 429, 503], {
    400: 'Invalid body, or no proof, both `code` and `recoveryCode`, or a `recoveryCode` without `password` (`validation_failed`)',
    401:
      'Wrong password (`invalid_credentials`); wrong, expired or used code (`invalid_code`); a passkey that does not verify, is not ' +
      'yours, or answers a challenge not of this session (`invalid_passkey`); or a missing, invalid or expired access token, or its ' +
      'session has ended (`missing_token`, `invalid_token`, `token_expired`, `session_revoked`)',
    409: 'A code was sent but no authenticator app is set up (`mfa_not_enabled`)',
    429: 'Too many attempts for this user or account, including failed logins (`rate_limited`, with `Retry-After`)',
  })
  // Below the 401 documentation above, which names invalid_credentials too: the upper decorator's wins.
  @Auth()
  async reauthenticate(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ReauthenticateDto,
    @Req() request: FastifyRequest,
  ): Promise<ReauthenticatedTokenDto> {
    if (body.response !== undefined) {
      if (body.password !== undefined || body.code !== undefined || body.recoveryCode !== undefined) {
        throw Problems.validation([{ field: 'response', message: 'send a passkey response alone, without password or codes' }]);
      }
      const passkey = await this.passkeys.reauthenticate(
        user,
        body.response,
        this.passkeyCeremonies.relyingParty(request),
        clientInfo(request),
      );
      return { accessToken: passkey.accessToken, tokenType: 'Bearer', expiresIn: passkey.expiresIn };
    }
    const proofs = reauthenticationProofs(body);
    // The device token (browsers' cookie, native clients' body field) exempts its holder from a lockout others caused, as at login.
    const device = this.cookies.presentedDevice(request, body);
    const { accessToken, expiresIn } = await this.auth.reauthenticate(user, proofs, clientInfo(request), device);
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

/** The forms POST /auth/reauthenticate accepts: `{password}`, `{code}`, `{password, code}`, `{password, recoveryCode}`. */
function reauthenticationProofs(body: ReauthenticateDto): ReauthenticationProofs {
  const { password, code, recoveryCode } = body;
  if (password === undefined && code === undefined && recoveryCode === undefined) {
    throw Problems.validation([{ field: 'password', message: 'send password, code, password with code or recoveryCode, or response' }]);
  }
  if (code !== undefined && recoveryCode !== undefined) {
    throw Problems.validation([{ field: 'recoveryCode', message: 'send either code or recoveryCode, not both' }]);
  }
  if (recoveryCode !== undefined && password === undefined) {
    throw Problems.validation([{ field: 'password', message: 'a recoveryCode needs the password too' }]);
  }
  return { password, code, recoveryCode };
}
