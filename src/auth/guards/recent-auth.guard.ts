import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { Problems } from '../../common/problems/problem.js';
import { authConfig } from '../../config/configuration.js';
import { RECENT_AUTH, type RecentAuthRequirement } from '../decorators/auth.decorators.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';
import { acrRank } from '../tokens/authentication-context.js';

/**
 * @RecentAuth() (RFC 9470 step-up), registered as APP_GUARD after the access-token and role
 * guards: the access token's own `auth_time` and `acr` decide (a refresh keeps them; only a
 * reauthentication or a login gives a token newer ones). Synchronous, no store question.
 */
@Injectable()
export class RecentAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const requirement = this.reflector.getAllAndOverride<RecentAuthRequirement | undefined>(RECENT_AUTH, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!requirement) return true;
    const user = context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
    // @RecentAuth() on a route that runs without a token (@Public, or @OptionalAuth called anonymously).
    if (!user) throw Problems.missingToken();
    const maxAgeSeconds = requirement.maxAgeSeconds ?? this.auth.reauthMaxAgeSeconds;
    const tooOld = Date.now() - user.authTime > maxAgeSeconds * 1000;
    const tooWeak = requirement.acr !== undefined && acrRank(user.acr) < acrRank(requirement.acr);
    if (tooOld || tooWeak) throw Problems.reauthenticationRequired(maxAgeSeconds, tooWeak ? requirement.acr : undefined);
    return true;
  }
}
