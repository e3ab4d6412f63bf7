import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { Problems } from '../../common/problem.js';
import { IS_PUBLIC } from '../decorators/auth.decorators.js';

/**
 * Deny by default: registered as APP_GUARD, it requires a valid access token with a live session
 * on every route not marked @Public().
 */
@Injectable()
export class AccessTokenGuard extends AuthGuard('access-token') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    return isPublic ? true : super.canActivate(context);
  }

  override handleRequest<T>(error: unknown, user: T, info: unknown): T {
    if (error) throw error;
    if (user) return user;
    const reason = info as { name?: string; message?: string } | undefined;
    if (reason?.name === 'TokenExpiredError') throw Problems.tokenExpired();
    if (reason?.message === 'No auth token') throw Problems.missingToken();
    throw Problems.invalidToken();
  }
}
