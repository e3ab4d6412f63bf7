import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { Problems } from '../../common/problems/problem.js';
import { appConfig } from '../../config/configuration.js';

/**
 * CSRF defence for cookie-authenticated POSTs (refresh, logout): a request whose `Origin` is
 * neither this server nor in CORS_ORIGINS is refused before anything is read or consumed.
 * Requests without `Origin` (native clients, curl) pass; SameSite=Strict covers old browsers.
 */
@Injectable()
export class OriginGuard implements CanActivate {
  constructor(@Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    const own = this.app.publicOrigin ?? `${request.protocol}://${request.host}`;
    if (origin === own || this.app.corsOrigins.includes(origin)) return true;
    throw Problems.forbiddenOrigin();
  }
}
