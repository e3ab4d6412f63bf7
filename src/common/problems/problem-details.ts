import { STATUS_CODES as STATUS_TEXT } from 'node:http';
import { HttpException, HttpStatus } from '@nestjs/common';
import { isDependencyFailure } from './dependency-error.js';
import { ProblemException, Problems } from './problem.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

export interface RenderedProblem {
  status: number;
  body: ProblemBody;
  headers: Record<string, string>;
  /** Only unexpected errors are worth a log line with their stack. */
  unexpected: boolean;
}

const STATUS_CODES: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

export const problemType = (code: string) => `urn:tessera:problem:${code}`;

/**
 * Every problem answer is no-store: errors of login, refresh and the authenticated routes alike
 * (they may name an account or a session), and nothing is gained by caching any of them.
 */
const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/** Maps any thrown value to problem details. Nothing from the error's internals reaches the body. */
export function toProblem(error: unknown, instance?: string): RenderedProblem {
  const problem = asProblemException(error);
  if (problem) {
    return {
      status: problem.getStatus(),
      headers: { ...problem.headers, ...NO_STORE },
      unexpected: false,
      body: {
        type: problemType(problem.code),
        title: problem.message,
        status: problem.getStatus(),
        detail: problem.detail,
        code: problem.code,
        instance: instance?.slice(0, 256),
        ...(problem.errors ? { errors: problem.errors } : {}),
      },
    };
  }
  const status = HttpStatus.INTERNAL_SERVER_ERROR;
  return {
    status,
    headers: { ...NO_STORE },
    unexpected: true,
    body: {
      type: problemType('internal_error'),
      title: 'Internal server error',
      status,
      detail: 'An unexpected error occurred',
      code: 'internal_error',
      instance,
    },
  };
}

function asProblemException(error: unknown): ProblemException | undefined {
  if (error instanceof ProblemException) return error;
  if (isDependencyFailure(error)) return Problems.serviceUnavailable();
  if (isUnstorableData(error)) {
    return new ProblemException(HttpStatus.BAD_REQUEST, 'bad_request', 'Bad request', {
      detail: 'The request contains characters that cannot be stored',
    });
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === Number(HttpStatus.NOT_FOUND)) return Problems.notFound(routeNotFoundDetail(error.message));
    if (status === Number(HttpStatus.PAYLOAD_TOO_LARGE)) return Problems.payloadTooLarge();
    if (status === Number(HttpStatus.SERVICE_UNAVAILABLE)) return Problems.serviceUnavailable();
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    if (status >= 500) return undefined;
    return new ProblemException(status, code, titleOf(error), { detail: detailOf(error) });
  }
  // Errors raised by Fastify before Nest sees the request (body parsing, limits, routing).
  const fastify = error as { code?: string; statusCode?: number; message?: string };
  switch (fastify?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Problems.payloadTooLarge();
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return Problems.malformedJson();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Problems.unsupportedMediaType();
  }
  if (error instanceof SyntaxError && typeof fastify.statusCode === 'number' && fastify.statusCode === 400) {
    return Problems.malformedJson();
  }
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const code = STATUS_CODES[fastify.statusCode] ?? 'bad_request';
    const title = STATUS_TEXT[fastify.statusCode] ?? 'Bad request';
    return new ProblemException(fastify.statusCode, code, title, { detail: 'The request could not be processed' });
  }
  return undefined;
}

function routeNotFoundDetail(message: string): string {
  // Nest's router says "Cannot GET /x": keep that, it is useful and reveals nothing.
  return /^Cannot [A-Z]+ /.test(message) ? message.slice(0, 200) : 'No such resource';
}

function titleOf(error: HttpException): string {
  const response = error.getResponse() as { error?: unknown };
  return typeof response === 'object' && typeof response?.error === 'string' ? response.error : error.message;
}

function detailOf(error: HttpException): string {
  const response = error.getResponse() as { message?: unknown };
  const message = typeof response === 'object' ? response?.message : response;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : error.message;
}

/** PostgreSQL "data exception" errors caused by input (e.g. 22021: a NUL byte in text): the client's fault. */
function isUnstorableData(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === '22021' || e.code === '22P05') return true;
  }
  return false;
}
