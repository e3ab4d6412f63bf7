import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Problems } from '../../common/problems/problem.js';
import { bearerToken } from '../client-info.js';
import { IS_PUBLIC, OPTIONAL_AUTH } from '../decorators/auth.decorators.js';
import { SessionService } from '../sessions/session.service.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';
import { TokenService } from '../tokens/token.service.js';

/**
 * Deny by default: registered as APP_GUARD, it requires on every route not marked @Public() a
 * valid access token (TokenService) whose session is still alive (one store question), and marks
 * the response `Cache-Control: no-store`. Routes marked @OptionalAuth() also run without an
 * `Authorization` header (anonymously); a header they get is checked like anywhere else.
 *
 * It started on passport-jwt; the profile of `npm run bench` showed passport's per-request
 * machinery and a signature check on every request dominating a protected request, so the guard
 * now calls TokenService directly (same rules, one implementation, verified tokens cached).
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly sessions: SessionService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedUser }>();
    // Every authenticated answer is about someone (their account, sessions, other users for
    // admins): no shared or browser cache may keep it. Set first, so it holds for errors too.
    context.switchToHttp().getResponse<FastifyReply>().header('Cache-Control', 'no-store');
    // @OptionalAuth(): no Authorization header at all is an anonymous call; a header is checked as usual.
    if (
      request.headers.authorization === undefined &&
      this.reflector.getAllAndOverride<boolean>(OPTIONAL_AUTH, [context.getHandler(), context.getClass()])
    )
      return true;
    const raw = bearerToken(request);
    if (raw === undefined) throw Problems.missingToken();
    const claims = this.tokens.verifyAccessToken(raw);
    if (!(await this.sessions.isAlive(claims.sub, claims.sid))) throw Problems.sessionRevoked();
    request.user = {
      id: claims.sub,
      sessionId: claims.sid,
      roles: claims.roles,
      authTime: claims.auth_time * 1000,
      amr: claims.amr,
      acr: claims.acr,
    };
    return true;
  }
}
