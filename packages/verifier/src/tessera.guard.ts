import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { bearerToken, checkRequirements } from './authorization.js';
import type { AuthenticatedUser } from './claims.js';
import { IS_PUBLIC } from './decorators.js';
import { Problems } from './problems.js';
import { TesseraVerifier } from './verifier.service.js';

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthenticatedUser;
}

/**
 * Deny by default (registered as APP_GUARD unless `globalGuard: false`): every route not marked
 * @Public() needs a valid, unrevoked Tessera access token, then what @Auth(...roles) and
 * @RecentAuth() ask. Sets `request.user` for @CurrentUser(). Use it with @UseGuards(TesseraGuard)
 * when not global.
 */
@Injectable()
export class TesseraGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TesseraVerifier) private readonly verifier: TesseraVerifier,
  ) {}

  /** Synchronous for a token already verified (no promise on the common path); async only for a new one. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const raw = bearerToken(request.headers);
    if (raw === undefined) throw Problems.missingToken();
    const known = this.verifier.verifyKnown(raw);
    if (known) return this.admit(context, request, known);
    return this.verifier.verify(raw).then((user) => this.admit(context, request, user));
  }

  private admit(context: ExecutionContext, request: HttpRequest, user: AuthenticatedUser): boolean {
    request.user = user;
    checkRequirements(this.reflector, context, user, this.verifier.options.reauthMaxAgeSeconds);
    return true;
  }
}
