import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import fastifyCookie from '@fastify/cookie';
import type { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { ProblemDetailsFilter, sendProblem } from './common/problems/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE, problemType } from './common/problems/problem-details.js';
import { BODY_LIMIT, Problems } from './common/problems/problem.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './http/json-depth.js';
import { limitPendingRequests } from './http/pending-requests.js';
import { securityHeaders } from './http/security-headers.js';
import { registerDemoPage } from './demo/demo-page.js';
import { createValidationPipe } from './common/validation.js';
import { type AppConfig, appConfig, authConfig, parseAppConfig, parseAuthConfig, parseStorageConfig, validateEnvironment } from './config/configuration.js';
import { KeyService } from './auth/tokens/key.service.js';
import { MetricsRegistry } from './metrics/metrics.registry.js';
import { setupSwagger } from './swagger.js';


const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A caller's well-formed `x-request-id` is kept (for tracing across services); otherwise a new UUID. */
function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Builds the Fastify-based Nest app exactly as production runs it (main.ts and the e2e tests
 * both call this), without listening.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  validateEnvironment(process.env);
  // The signing key is the one other thing start-up can trip on; checked here, a bad one is a
  // single clear line instead of a Nest stack trace (KeysModule then loads the same file).
  await KeyService.load(parseAuthConfig(process.env), parseStorageConfig(process.env), parseAppConfig(process.env), false);
  const frameworkLogger = new Logger('Http');
  const { http, trustProxy } = parseAppConfig(process.env);
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    serverFactory: (handler: RequestListener) => createHttpServer(handler, http),
    // Errors Fastify raises before any route runs (a malformed URL, an over-long parameter) are
    // problem details too.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => sendProblem(error, request, reply, frameworkLogger),
    clientErrorHandler: answerClientError,
    // pino-http (nestjs-pino) logs with this id too: it reuses the raw request's `id`.
    genReqId: requestId,
    // A hop count is valid for Fastify (proxy-addr), though the adapter's type omits it.
    trustProxy: trustProxy as boolean | string[],
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    bufferLogs: true,
    abortOnError: false,
    // Fastify's own JSON parser (wrapped in configureApp) does the parsing, with BODY_LIMIT.
    bodyParser: false,
  });
  app.useLogger(app.get(NestPinoLogger));
  await configureApp(app);
  return app;
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

/**
 * The HTTP server, made here rather than by Fastify for one setting Fastify cannot pass on:
 * Node enforces requestTimeout/headersTimeout only on a sweep every `connectionsCheckingInterval`
 * (30 s by default, fixed at creation). Fastify's own defaults (no request timeout, 72 s keep-alive)
 * let a client hold a socket forever by never finishing a body.
 */
function createHttpServer(handler: RequestListener, limits: AppConfig['http']) {
  const server = createServer(
    {
      connectionsCheckingInterval: 1000,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
    handler,
  );
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return server;
}

const CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large' },
  // REQUEST_TIMEOUT / HEADERS_TIMEOUT passed before the whole request arrived.
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout' },
};

/** Requests Node's HTTP parser refuses (oversized headers, garbage, too slow): a bare problem, then close. */
function answerClientError(error: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, code } = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, code: 'bad_request' };
  const body = JSON.stringify({ type: problemType(code), title: STATUS_CODES[status], status, detail: STATUS_CODES[status], code });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function configureApp(app: NestFastifyApplication): Promise<void> {
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  const auth = app.get<ConfigType<typeof authConfig>>(authConfig.KEY);
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;

  await app.register(fastifyCookie as never);
  const headers = securityHeaders({
    // Headers only legacy browsers or plugins read (IE8 downloads, Flash/Acrobat policies, DNS
    // prefetch, origin-keyed agent clusters): each one is bytes and work on every JSON response.
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xDnsPrefetchControl: false,
    originAgentCluster: false,
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // Swagger UI styles inline and shows inline (data:) images.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        // Plain-http local development must keep working (Swagger UI, the demo page).
        upgradeInsecureRequests: null,
      },
    },
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    done();
  });
  if (config.corsOrigins.length > 0) {
    app.enableCors({ origin: config.corsOrigins, credentials: true, exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'x-request-id'] });
  }

  // An empty JSON body (e.g. `POST /auth/logout` with a JSON content type) means "no body", not 400.
  // Only JSON bodies are accepted: anything else is 415, not a string that fails validation.
  fastify.removeContentTypeParser('text/plain');
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) done(null, undefined);
    // Refused before parsing, so nothing recursive ever sees it (see json-depth.ts).
    else if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) done(Problems.tooDeep(MAX_JSON_DEPTH), undefined);
    else parseJson(request, body as string, (error, value) => (error ? done(Problems.malformedJson(), undefined) : done(null, value)));
  });

  limitPendingRequests(fastify, config.http.maxPendingRequestsPerClient, Math.ceil(config.http.requestTimeoutMs / 1000));

  const metrics = app.get(MetricsRegistry);
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', status, reply.elapsedTime / 1000);
    logRequest(request, status, reply.elapsedTime);
    done();
  });

  if (config.demoPage) await registerDemoPage(fastify);

  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());
  app.enableShutdownHooks();
  // Production serves the API description only when DOCS=true says so.
  if (config.docs) setupSwagger(app, auth.cookieName);
}
