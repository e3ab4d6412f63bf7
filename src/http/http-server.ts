import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../common/problems/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE, problemType } from '../common/problems/problem-details.js';
import { BODY_LIMIT } from '../common/problems/problem.js';
import type { AppConfig } from '../config/configuration.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A caller's well-formed `x-request-id` is kept (for tracing across services); otherwise a new UUID. */
function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The Fastify adapter as production runs it: our HTTP server, body limit, request ids, problem details for framework errors. */
export function createFastifyAdapter(config: Pick<AppConfig, 'http' | 'trustProxy'>): FastifyAdapter {
  const frameworkLogger = new Logger('Http');
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    serverFactory: (handler: RequestListener) => createHttpServer(handler, config.http),
    // Errors Fastify raises before any route runs (a malformed URL, an over-long parameter) are
    // problem details too.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => sendProblem(error, request, reply, frameworkLogger),
    clientErrorHandler: answerClientError,
    // pino-http (nestjs-pino) logs with this id too: it reuses the raw request's `id`.
    genReqId: requestId,
    // A hop count is valid for Fastify (proxy-addr), though the adapter's type omits it.
    trustProxy: config.trustProxy as boolean | string[],
  });
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
