import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem-details.js';

/** Renders every error as RFC 9457 problem details; unexpected ones are logged, never echoed. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetails');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    sendProblem(error, request, reply, this.logger);
  }
}

export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  const problem = toProblem(error, request.url.split('?')[0]);
  if (problem.unexpected) {
    logger.error({ reqId: request.id, stack: describeForLog(error) }, 'Unexpected error');
  } else if (problem.status === 503) {
    // The request line already says 503, and the Redis client logs the outage once: keep this quiet.
    // Never the error's message: a failed query's quotes its SQL parameters (emails, hashes).
    logger.debug({ reqId: request.id, cause: describeCause(error) }, 'Unavailable; failing closed');
  }
  if (reply.sent) return;
  reply.status(problem.status).headers(problem.headers).header('content-type', PROBLEM_CONTENT_TYPE).send(problem.body);
}

/**
 * Drizzle's query errors quote their parameters (password hashes, emails), and PostgreSQL's own
 * messages can quote a value (`invalid input syntax for type uuid: "…"`): for database errors only
 * the names, codes and stack frames are logged, never a message.
 */
function describeForLog(error: unknown): string {
  if (!isDatabaseError(error)) return error instanceof Error ? (error.stack ?? error.message) : String(error);
  const frames = (error as Error).stack?.split('\n').filter((line) => /^\s+at /.test(line)) ?? [];
  return [describeCause(error), ...frames].join('\n');
}

function isDatabaseError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { query, severity } = e as { query?: unknown; severity?: unknown };
    if (query !== undefined || severity !== undefined) return true;
  }
  return false;
}

/**
 * What failed, without what was asked: error names and codes along the cause chain (e.g.
 * "Error > DatabaseError 57P01" or "Error ECONNREFUSED"), never messages, which for drizzle's
 * "Failed query: … params: …" carry the parameters.
 */
export function describeCause(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    parts.push(
      [typeof name === 'string' ? name : typeof e, typeof code === 'string' || typeof code === 'number' ? String(code) : '']
        .filter(Boolean)
        .join(' '),
    );
  }
  return parts.join(' > ');
}
