import fastifyCookie from '@fastify/cookie';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/configuration.js';
import { acceptJsonBodiesOnly } from './json-body.js';
import { limitPendingRequests } from './pending-requests.js';
import { type RequestObserver, recordResponses } from './request-log.js';
import { addSecurityHeaders } from './security-headers.js';

/** The HTTP edge, in the order requests meet it: cookies, headers, CORS, bodies, the pending cap, the response log. */
export async function configureHttpEdge(app: NestFastifyApplication, config: AppConfig, observer: RequestObserver): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  await app.register(fastifyCookie as never);
  addSecurityHeaders(fastify);
  if (config.corsOrigins.length > 0) {
    app.enableCors({ origin: config.corsOrigins, credentials: true, exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'x-request-id'] });
  }
  acceptJsonBodiesOnly(fastify);
  limitPendingRequests(fastify, config.http.maxPendingRequestsPerClient, Math.ceil(config.http.requestTimeoutMs / 1000));
  recordResponses(fastify, observer);
}
