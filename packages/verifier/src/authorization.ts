import type { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import { acrRank, type AuthenticatedUser } from './claims.js';
import { RECENT_AUTH, type RecentAuthRequirement, REQUIRED_ROLES } from './decorators.js';
import { Problems } from './problems.js';

/**
 * What @Auth(...roles) and @RecentAuth() ask of an authenticated user, checked after the token:
 * 403 `forbidden` without one of the roles, 401 `reauthentication_required` for a proof too old or
 * too weak. Shared by TesseraGuard and TesseraAuthGuard (passport).
 */
export function checkRequirements(
  reflector: Reflector,
  context: ExecutionContext,
  user: AuthenticatedUser,
  defaultMaxAgeSeconds: number,
): void {
  const targets = [context.getHandler(), context.getClass()];
  const roles = reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
  if (roles && roles.length > 0 && !roles.some((role) => user.roles.includes(role))) throw Problems.forbidden();
  const recent = reflector.getAllAndOverride<RecentAuthRequirement | undefined>(RECENT_AUTH, targets);
  if (!recent) return;
  const maxAgeSeconds = recent.maxAgeSeconds ?? defaultMaxAgeSeconds;
  const tooOld = Date.now() - user.authTime > maxAgeSeconds * 1000;
  const tooWeak = recent.acr !== undefined && acrRank(user.acr) < acrRank(recent.acr);
  if (tooOld || tooWeak) throw Problems.reauthenticationRequired(maxAgeSeconds, tooWeak ? recent.acr : undefined);
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), or undefined. */
export function bearerToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
