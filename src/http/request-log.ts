import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';

/** Whoever counts requests (the metrics registry): told of every response. */
export interface RequestObserver {
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

/** One log line and one observation per response (see logging.module.ts for why a hook, not middleware). */
export function recordResponses(fastify: FastifyInstance, observer: RequestObserver): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    observer.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', status, reply.elapsedTime / 1000);
    logRequest(request, status, reply.elapsedTime);
    done();
  });
}

/** One line per request, at info (5xx at error, 503 at warn); nothing is built when the level is off. */
function logRequest(request: FastifyRequest, status: number, elapsedMs: number): void {
  const logger = PinoLogger.root;
  const level = status === 503 ? 'warn' : status >= 500 ? 'error' : 'info';
  if (!logger?.isLevelEnabled(level)) return;
  logger[level](
    { reqId: request.id, method: request.method, path: request.url.split('?')[0], status, responseTime: Math.round(elapsedMs) },
    'request completed',
  );
}
