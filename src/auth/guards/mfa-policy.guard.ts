import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { Problems } from '../../common/problems/problem.js';
import { authConfig } from '../../config/configuration.js';
import { WITHOUT_SECOND_FACTOR } from '../decorators/auth.decorators.js';
import { SecondFactors } from '../second-factors.service.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';
import { ACR_AAL2, acrRank } from '../tokens/authentication-context.js';

/**
 * MFA_REQUIRED_ROLES, registered as APP_GUARD after the access-token and role guards:
 * - a user whose access token carries one of these roles and who has no second factor is refused
 *   with 403 `mfa_enrolment_required` everywhere except @AllowWithoutSecondFactor() routes;
 * - when `admin` is one of them, every route under /admin also wants a session proved with two
 *   factors: otherwise 401 `reauthentication_required` with `acr_values="urn:tessera:aal2"`
 *   (RFC 9470), which a reauthentication with password and code satisfies.
 *
 * Cost: nothing (synchronous, no store question) when MFA_REQUIRED_ROLES is empty or the token
 * holds none of its roles, i.e. for almost every request. Roles are read from the token, so a role
 * granted meanwhile counts from the user's next token (at most ACCESS_TOKEN_TTL later). Whether the
 * user has a factor comes from SecondFactors, which remembers a yes for 30 s per instance.
 */
@Injectable()
export class MfaPolicyGuard implements CanActivate {
  private readonly required: ReadonlySet<string>;
  private readonly adminNeedsAal2: boolean;

  constructor(
    private readonly reflector: Reflector,
    private readonly factors: SecondFactors,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {
    this.required = new Set(auth.mfaRequiredRoles);
    this.adminNeedsAal2 = this.required.has('admin');
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.required.size === 0) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedUser }>();
    const user = request.user;
    if (!user || !user.roles.some((role) => this.required.has(role))) return true;
    return this.check(context, request, user);
  }

  private async check(context: ExecutionContext, request: FastifyRequest, user: AuthenticatedUser): Promise<boolean> {
    const exempt = this.reflector.getAllAndOverride<boolean | undefined>(WITHOUT_SECOND_FACTOR, [context.getHandler(), context.getClass()]);
    if (exempt) return true;
    if (!(await this.factors.hasAny(user.id))) throw Problems.mfaEnrolmentRequired();
    const url = request.routeOptions?.url ?? '';
    if (this.adminNeedsAal2 && (url === '/admin' || url.startsWith('/admin/')) && acrRank(user.acr) < acrRank(ACR_AAL2)) {
      throw Problems.reauthenticationRequired(this.auth.reauthMaxAgeSeconds, ACR_AAL2);
    }
    return true;
  }
}
