import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBasicAuth, ApiBearerAuth, ApiBody, ApiSecurity } from '@nestjs/swagger';
import { ApiProblems } from '../../common/problems/api-problems.decorator.js';
import { RefreshTokenBodyDto } from '../dto/credentials.dto.js';
import { OriginGuard } from '../guards/origin.guard.js';
import { ServiceClientGuard, type ServiceClientPrincipal } from '../guards/service-client.guard.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';
import { parseDurationSeconds } from '../../config/duration.js';
import type { Acr } from '../tokens/authentication-context.js';

/** The principal @CurrentUser() hands a route: what every controller needs from auth, in one import. */
export type { AuthenticatedUser };

export const IS_PUBLIC = 'tessera:isPublic';
export const OPTIONAL_AUTH = 'tessera:optionalAuth';
export const REQUIRED_ROLES = 'tessera:roles';
export const RECENT_AUTH = 'tessera:recentAuth';
export const BEARER_SCHEME = 'bearer';
export const SERVICE_CLIENT_SCHEME = 'service-client';
export const WITHOUT_SECOND_FACTOR = 'tessera:allowWithoutSecondFactor';

/** Opts a route out of the global access-token guard. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/**
 * A route that works with or without a Bearer token: without an `Authorization` header it runs
 * anonymously (no `@CurrentUser()`); with one, the token must be valid like on any protected route
 * (401 otherwise), and `@CurrentUser()` is its user. Read the caller with `@OptionalUser()`.
 * Documented with both an empty and a Bearer security requirement.
 */
export function OptionalAuth() {
  return applyDecorators(
    SetMetadata(OPTIONAL_AUTH, true),
    ApiSecurity({}),
    ApiBearerAuth(BEARER_SCHEME),
    ApiProblems([401, 503], {
      401: 'An `Authorization` header was sent but its token is invalid, expired or its session has ended (`missing_token`, `invalid_token`, `token_expired`, `session_revoked`)',
    }),
  );
}

/**
 * A route a user needs to set up a second factor (enrolment, `GET /auth/mfa`, reauthentication,
 * logging out, refresh, `GET /users/me`): it stays open to users whom MFA_REQUIRED_ROLES would
 * otherwise refuse with 403 `mfa_enrolment_required` because they have no second factor yet
 * (MfaPolicyGuard). Everything else is closed to them.
 */
export const AllowWithoutSecondFactor = () => SetMetadata(WITHOUT_SECOND_FACTOR, true);

/** Requires one of these roles (checked against the user's current roles, not the token's). */
export const Roles = (...roles: string[]) => SetMetadata(REQUIRED_ROLES, roles);

/**
 * The one decorator for protected routes: a Bearer access token with a live session, optionally
 * one of `roles`, and the matching Swagger security and error responses — so docs cannot drift
 * from the guards.
 */
export function Auth(...roles: string[]) {
  return applyDecorators(
    Roles(...roles),
    ApiBearerAuth(BEARER_SCHEME),
    ApiProblems(roles.length > 0 ? [401, 403, 503] : [401, 503], {
      401: AUTH_401,
      403: `Requires role ${roles.join(' or ')} (\`forbidden\`)`,
    }),
  );
}

/** What @RecentAuth() asks of a route: a proof of identity at most `maxAgeSeconds` old (REAUTH_MAX_AGE when undefined), worth `acr`. */
export interface RecentAuthRequirement {
  maxAgeSeconds?: number;
  acr?: Acr;
}

const AUTH_401 =
  'Missing, invalid or expired access token, or its session has ended (`missing_token`, `invalid_token`, `token_expired`, `session_revoked`)';

/**
 * Step-up (RFC 9470) for sensitive routes: besides a valid Bearer token (like @Auth()), the user
 * must have proved who they are recently — the token's `auth_time` at most `maxAge` old (seconds,
 * or a duration like '10m'; REAUTH_MAX_AGE by default) — and, with `{ acr: 'urn:tessera:aal2' }`,
 * with two factors. Otherwise 401 `reauthentication_required` with
 * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=…` (and `acr_values`);
 * the client calls POST /auth/reauthenticate and retries with the new token. Checked after the
 * access-token and role guards (RecentAuthGuard). Use it in place of @Auth(), or together with
 * @Auth(...roles) written *below* it (so its 401 documentation is the one kept).
 */
export function RecentAuth(maxAge?: number | string, options: { acr?: Acr } = {}) {
  const maxAgeSeconds = typeof maxAge === 'string' ? parseDurationSeconds(maxAge) : maxAge;
  if (maxAge !== undefined && (maxAgeSeconds === undefined || !Number.isInteger(maxAgeSeconds) || maxAgeSeconds <= 0)) {
    throw new Error(`@RecentAuth(): maxAge must be a positive whole number of seconds or a duration like '10m' (got ${String(maxAge)})`);
  }
  const requirement: RecentAuthRequirement = { maxAgeSeconds, acr: options.acr };
  const age = maxAgeSeconds === undefined ? 'REAUTH_MAX_AGE (default 5 minutes)' : `${maxAgeSeconds} seconds`;
  const level = options.acr ? `, with ${options.acr}` : '';
  return applyDecorators(
    SetMetadata(RECENT_AUTH, requirement),
    ApiBearerAuth(BEARER_SCHEME),
    ApiProblems([401, 503], {
      401:
        `${AUTH_401}; or the user last proved who they are more than ${age} ago${level ? ` or not${level}` : ''}: ` +
        'reauthenticate with POST /auth/reauthenticate and retry with the new access token (`reauthentication_required`, ' +
        'with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=…`' +
        (options.acr ? ` and \`acr_values="${options.acr}"\`` : '') +
        ')',
    }),
  );
}

/**
 * For routes a browser authenticates with the refresh cookie (refresh, logout): refuses a foreign
 * `Origin` (403 forbidden_origin) before anything else on the route runs. Place it *below*
 * @RateLimit so a refused request consumes neither the token nor the caller's rate limit.
 */
export function CookieAuthenticated() {
  return applyDecorators(
    UseGuards(OriginGuard),
    ApiProblems([403], { 403: 'Cookie request from a foreign Origin (`forbidden_origin`); nothing is consumed' }),
  );
}

/**
 * The optional body of refresh and logout. Browsers (Swagger UI included) send the HttpOnly refresh
 * cookie by themselves and no body: the example is `{}`, never a made-up token, which would be used
 * instead of the cookie and fail. The cookie is not an OpenAPI security scheme: Swagger UI would
 * show a box for it in Authorize that nobody can fill (HttpOnly) and that does nothing.
 */
export function ApiRefreshTokenBody() {
  return ApiBody({
    type: RefreshTokenBodyDto,
    required: false,
    description:
      'Browsers: leave it empty. The refresh token travels in the HttpOnly cookie (path /auth) that login set, and the browser sends it by itself. ' +
      'Native clients: `{"refreshToken": "…"}` with the token from the login or refresh body.',
    examples: { browser: { summary: 'Browser: no body, the refresh cookie is sent', value: {} } },
  });
}

/** The authenticated user of a protected route. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser => {
  return context.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
});

/** The authenticated user of an @OptionalAuth() route, or undefined when the request sent no token. */
export const OptionalUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser | undefined => {
  return context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
});

/**
 * A route for other services, not users: authenticated with a credential from SERVICE_CLIENTS as
 * HTTP Basic (401 `invalid_client` otherwise) instead of an access token. Read the caller with
 * @CurrentServiceClient().
 */
export function ServiceClientAuth() {
  return applyDecorators(
    Public(),
    UseGuards(ServiceClientGuard),
    ApiBasicAuth(SERVICE_CLIENT_SCHEME),
    ApiProblems([401], { 401: 'No valid service credential (`invalid_client`)' }),
  );
}

/** The service client a @ServiceClientAuth() route was called by. */
export const CurrentServiceClient = createParamDecorator(
  (_data: unknown, context: ExecutionContext): ServiceClientPrincipal | undefined =>
    context.switchToHttp().getRequest<{ serviceClient?: ServiceClientPrincipal }>().serviceClient,
);
