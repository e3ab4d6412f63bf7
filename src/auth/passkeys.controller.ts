import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { AuthCookies } from './auth-cookies.js';
import { clientInfo } from './client-info.js';
import { AllowWithoutSecondFactor, Auth, CurrentUser, Public, RecentAuth } from './decorators/auth.decorators.js';
import {
  CREATION_OPTIONS_EXAMPLE,
  PasskeyDto,
  PasskeyLoginDto,
  RegisterPasskeyDto,
  RenamePasskeyDto,
  REQUEST_OPTIONS_EXAMPLE,
} from './dto/passkeys.dto.js';
import { TokenResponseDto } from './dto/token-response.dto.js';
import { PasskeyAuthService } from './passkey-auth.service.js';
import { PasskeysService } from './passkeys/passkeys.service.js';
import type { AuthenticatedUser } from './tokens/access-token.js';

const optionsSchema = (example: object) => ({ type: 'object' as const, additionalProperties: true, example });

const ID_PARAM = { name: 'id', description: 'The credential id (base64url)', example: 'hV8kQ0m2Yw3tC1nR5sJ7aQ' };

/** Passkeys (WebAuthn): registration and management by the signed-in user, passwordless login, and the options of a reauthentication. */
@ApiTags('passkeys')
@Controller('auth')
export class PasskeysController {
  constructor(
    private readonly flows: PasskeyAuthService,
    private readonly passkeys: PasskeysService,
    private readonly cookies: AuthCookies,
  ) {}

  @RecentAuth()
  // MFA_REQUIRED_ROLES: part of enrolling a second factor, open before one exists.
  @AllowWithoutSecondFactor()
  @RateLimit('public')
  @Post('passkeys/registration/options')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Start registering a passkey',
    description:
      'Creation options for `navigator.credentials.create()` (parse them with `PublicKeyCredential.parseCreationOptionsFromJSON`): a ' +
      "discoverable credential is required, user verification preferred, the user's existing passkeys excluded. The challenge is " +
      'single-use and lives 5 minutes. Needs a recent authentication.',
  })
  @ApiOkResponse({ description: 'PublicKeyCredentialCreationOptionsJSON', schema: optionsSchema(CREATION_OPTIONS_EXAMPLE) })
  registrationOptions(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: FastifyRequest,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return this.flows.registrationOptions(user, this.passkeys.relyingParty(request));
  }

  @Auth()
  // MFA_REQUIRED_ROLES: part of enrolling a second factor, open before one exists.
  @AllowWithoutSecondFactor()
  @Post('passkeys')
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Register a passkey',
    description:
      'Verifies the new credential against the challenge of `POST /auth/passkeys/registration/options` (used up whatever the outcome), ' +
      "this site's origin and RP ID, and stores it. Recorded as `passkey.added`.",
  })
  @ApiCreatedResponse({ type: PasskeyDto })
  @ApiProblems([400, 409, 413], {
    400:
      'Invalid body or a malformed `response` (`validation_failed`); a response that does not verify: challenge unknown, used, expired ' +
      "or another user's, another origin or RP ID (`passkey_not_verified`)",
    409: 'This credential is already registered (`passkey_exists`)',
  })
  register(@CurrentUser() user: AuthenticatedUser, @Body() body: RegisterPasskeyDto, @Req() request: FastifyRequest): Promise<PasskeyDto> {
    return this.flows.register(user, body.response, body.name, this.passkeys.relyingParty(request), clientInfo(request));
  }

  @Auth()
  // MFA_REQUIRED_ROLES: part of enrolling a second factor, open before one exists.
  @AllowWithoutSecondFactor()
  @Get('passkeys')
  @ApiOperation({ summary: 'List your passkeys', description: 'Oldest first. Never the public keys or counters.' })
  @ApiOkResponse({ type: PasskeyDto, isArray: true })
  list(@CurrentUser() user: AuthenticatedUser): Promise<PasskeyDto[]> {
    return this.passkeys.list(user.id);
  }

  @Auth()
  @Patch('passkeys/:id')
  @ApiOperation({ summary: 'Rename a passkey' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: PasskeyDto })
  @ApiProblems([400, 404], { 404: 'No passkey of yours has this id (`not_found`)' })
  rename(@CurrentUser() user: AuthenticatedUser, @Param('id') id: string, @Body() body: RenamePasskeyDto): Promise<PasskeyDto> {
    return this.passkeys.rename(user.id, id, body.name);
  }

  @RecentAuth()
  @Delete('passkeys/:id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Remove a passkey',
    description:
      'Needs a recent authentication; on an account that also has an authenticator app (two factors), one at aal2 (a recent proof ' +
      'with two factors, e.g. a user-verified passkey or password and code). Recorded as `passkey.removed`.',
  })
  @ApiParam(ID_PARAM)
  @ApiNoContentResponse({ description: 'Removed; it no longer logs in' })
  @ApiProblems([404], { 404: 'No passkey of yours has this id (`not_found`)' })
  async remove(@CurrentUser() user: AuthenticatedUser, @Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.flows.remove(user, id, clientInfo(request));
  }

  @Public()
  @RateLimit('public')
  @Post('passkeys/login/options')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Start a passkey login',
    description:
      'Request options for `navigator.credentials.get()` (parse them with `PublicKeyCredential.parseRequestOptionsFromJSON`), with no ' +
      '`allowCredentials`: the browser offers the passkeys it holds for this site. The challenge is single-use and lives 5 minutes.',
  })
  @ApiOkResponse({ description: 'PublicKeyCredentialRequestOptionsJSON', schema: optionsSchema(REQUEST_OPTIONS_EXAMPLE) })
  @ApiProblems([429, 503])
  loginOptions(@Req() request: FastifyRequest): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.passkeys.loginOptions(this.passkeys.relyingParty(request));
  }

  @Public()
  @RateLimit('public')
  @Post('passkeys/login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in with a passkey',
    description:
      'The normal login response (refresh cookie for browsers, body for `client: "native"`). The access token\'s `amr` has `swk` for a ' +
      'backed-up (synced) passkey, else `hwk`, and `user` and `mfa` when the authenticator verified the user (then `acr` is ' +
      'urn:tessera:aal2, else aal1). Signature counters must go up. Rate limited per IP.',
  })
  @ApiBody({ type: PasskeyLoginDto })
  @ApiOkResponse({
    type: TokenResponseDto,
    headers: { 'Set-Cookie': { description: 'The refresh token cookie and the device cookie (browsers)' } },
  })
  @ApiProblems([400, 401, 403, 413, 429, 503], {
    401:
      'The passkey did not verify: unknown or removed credential, challenge unknown, used or expired, another origin, a bad ' +
      'signature, a counter that went back, or a disabled account, alike (`invalid_passkey`)',
    403: 'REQUIRE_VERIFIED_EMAIL is on and the address is not verified yet; only after a valid passkey (`email_unverified`)',
  })
  async login(
    @Body() body: PasskeyLoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const issued = await this.flows.login(body.response, this.passkeys.relyingParty(request), clientInfo(request));
    return this.cookies.respond(reply, issued, body.client === 'native');
  }

  @Auth()
  // MFA_REQUIRED_ROLES: part of enrolling a second factor, open before one exists.
  @AllowWithoutSecondFactor()
  @RateLimit('public')
  @Post('reauthenticate/options')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Start a reauthentication with a passkey',
    description:
      "Request options listing the user's passkeys, with a challenge bound to this user and session (single-use, 5 minutes); send " +
      'the assertion to `POST /auth/reauthenticate` as `{response}`.',
  })
  @ApiOkResponse({ description: 'PublicKeyCredentialRequestOptionsJSON', schema: optionsSchema(REQUEST_OPTIONS_EXAMPLE) })
  @ApiProblems([409], { 409: 'The account has no passkey (`no_passkey`)' })
  reauthenticationOptions(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: FastifyRequest,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.passkeys.reauthenticationOptions(user, this.passkeys.relyingParty(request));
  }
}
