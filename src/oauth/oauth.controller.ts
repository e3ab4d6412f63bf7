import { Body, Controller, Header, HttpCode, HttpStatus, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { clientInfo } from '../auth/client-info.js';
import { CurrentServiceClient, Public, SERVICE_CLIENT_SCHEME } from '../auth/decorators/auth.decorators.js';
import type { ServiceClientPrincipal } from '../auth/guards/service-client.guard.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { ClientAuthenticationOptional, OAuthClientGuard } from './oauth-client.guard.js';
import { IntrospectionDto, TokenFormDto } from './oauth.dto.js';
import { type Introspection, OAuthService } from './oauth.service.js';

const FORM = 'application/x-www-form-urlencoded';
const FORM_PROBLEMS = {
  400: 'No `token` parameter, or a parameter sent twice (`invalid_request`)',
  413: 'Form body over 8 KiB (`payload_too_large`)',
  415: 'Not a form body (`unsupported_media_type`): these routes take `application/x-www-form-urlencoded` only',
};

/**
 * RFC 7662 and RFC 7009, for services that do not verify Tessera's tokens locally. The only
 * routes that take form bodies (see http/json-body.ts). Public: no access token is involved;
 * clients authenticate with HTTP Basic (OAuthClientGuard).
 */
@ApiTags('other services')
@Public()
@UseGuards(OAuthClientGuard)
@Controller('oauth')
export class OAuthController {
  constructor(private readonly oauth: OAuthService) {}

  @Post('introspect')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Introspect a token (RFC 7662)',
    description:
      'For services that cannot verify tokens locally and follow the revocation feed: one call per request. ' +
      'Client authentication: a SERVICE_CLIENTS credential as HTTP Basic (RFC 6749 §2.3.1); failed attempts are rate limited per IP. ' +
      '`{"active": false}` for anything expired, revoked, forged, unknown or malformed, and for an older refresh token of a ' +
      'session (introspection never ends a session or consumes a token). Otherwise the token facts, `token_use` saying which ' +
      "kind it is; `roles` are the user's current roles.",
  })
  @ApiConsumes(FORM)
  @ApiBody({ type: TokenFormDto })
  @ApiBasicAuth(SERVICE_CLIENT_SCHEME)
  @ApiOkResponse({ type: IntrospectionDto, description: 'The answer; `{"active": false}` alone when the token is not active' })
  @ApiProblems([400, 401, 413, 415, 429, 503], {
    ...FORM_PROBLEMS,
    401: 'No valid service credential (`invalid_client`, with `WWW-Authenticate: Basic`)',
    429: 'Too many failed client authentications from this address (`rate_limited`)',
  })
  introspect(@Body() form: Record<string, string> | undefined): Promise<Introspection> {
    return this.oauth.introspect(form);
  }

  @Post('revoke')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @ClientAuthenticationOptional()
  @RateLimit('public')
  @ApiOperation({
    summary: 'Revoke a token (RFC 7009)',
    description:
      'Ends the session of a refresh token or of a valid access token; holding the token is enough. A SERVICE_CLIENTS ' +
      'credential (HTTP Basic) is accepted too; when an `Authorization` header is sent it must be valid. ' +
      'Answers 200 with an empty body whatever the token was (unknown, forged, expired, already revoked): RFC 7009 §2.2. ' +
      'An expired access token ends nothing; revoke the refresh token instead. Rate limited per IP.',
  })
  @ApiConsumes(FORM)
  @ApiBody({ type: TokenFormDto })
  @ApiSecurity({})
  @ApiBasicAuth(SERVICE_CLIENT_SCHEME)
  @ApiOkResponse({ description: 'Done (empty body): the session, if the token named a live one, has ended' })
  @ApiProblems([400, 401, 413, 415, 429, 503], {
    ...FORM_PROBLEMS,
    401: 'An `Authorization` header was sent but is not a valid service credential (`invalid_client`)',
  })
  async revoke(
    @Body() form: Record<string, string> | undefined,
    @Req() request: FastifyRequest,
    @CurrentServiceClient() client: ServiceClientPrincipal | undefined,
  ): Promise<void> {
    await this.oauth.revoke(form, { ...clientInfo(request), client: client?.id });
  }
}
