import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity } from '@nestjs/swagger';
import { ApiProblems } from '../../common/problems/api-problems.decorator.js';
import { RefreshTokenBodyDto } from '../dto/credentials.dto.js';
import { OriginGuard } from '../guards/origin.guard.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';

/** The principal @CurrentUser() hands a route: what every controller needs from auth, in one import. */
export type { AuthenticatedUser };

export const IS_PUBLIC = 'tessera:isPublic';
export const OPTIONAL_AUTH = 'tessera:optionalAuth';
export const REQUIRED_ROLES = 'tessera:roles';
export const BEARER_SCHEME = 'bearer';

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
      401: 'Missing, invalid or expired access token, or its session has ended (`missing_token`, `invalid_token`, `token_expired`, `session_revoked`)',
      403: `Requires role ${roles.join(' or ')} (\`forbidden\`)`,
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
