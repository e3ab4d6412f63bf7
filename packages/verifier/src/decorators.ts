import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { type Acr, type AuthenticatedUser, parseDurationSeconds } from './claims.js';

/** The same metadata keys as Tessera's decorators (a route reads alike in both). */
export const IS_PUBLIC = 'tessera:isPublic';
export const REQUIRED_ROLES = 'tessera:roles';
export const RECENT_AUTH = 'tessera:recentAuth';

/** Opts a route out of the global guard: no token needed, and it keeps working while the feed is lost. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/**
 * A protected route (what the global guard requires anyway): a valid Tessera access token whose
 * session has not ended; with `roles`, one of them, as carried by the token (a role change on
 * Tessera sends a `user` event that refuses the older tokens).
 */
export const Auth = (...roles: string[]) => SetMetadata(REQUIRED_ROLES, roles);

/** Same as @Auth(...roles), under Tessera's other name. */
export const Roles = Auth;

export interface RecentAuthRequirement {
  maxAgeSeconds?: number;
  acr?: Acr;
}

/**
 * Step-up (RFC 9470), as in Tessera: besides a valid token, the user proved who they are at most
 * `maxAge` ago (seconds or a duration like '10m'; the module's `reauthMaxAgeSeconds` by default),
 * with `{ acr: 'urn:tessera:aal2' }` with two factors. Otherwise 401 `reauthentication_required`
 * with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=…`; the client
 * reauthenticates on Tessera and retries with the new token.
 */
export function RecentAuth(maxAge?: number | string, options: { acr?: Acr } = {}) {
  const maxAgeSeconds = typeof maxAge === 'string' ? parseDurationSeconds(maxAge) : maxAge;
  if (maxAge !== undefined && (maxAgeSeconds === undefined || !Number.isInteger(maxAgeSeconds) || maxAgeSeconds <= 0)) {
    throw new Error(`@RecentAuth(): maxAge must be a positive whole number of seconds or a duration like '10m' (got ${String(maxAge)})`);
  }
  return SetMetadata(RECENT_AUTH, { maxAgeSeconds, acr: options.acr } satisfies RecentAuthRequirement);
}

/** The authenticated user of a protected route. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedUser => context.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user,
);
