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
    logger.debug({ reqId: request.id, cause: (error as Error)?.message }, 'Dependency unavailable; failing closed');
  }
  if (reply.sent) return;
  reply.status(problem.status).headers(problem.headers).header('content-type', PROBLEM_CONTENT_TYPE).send(problem.body);
}

/** Drizzle's query errors quote their parameters (password hashes, emails): log the driver's cause instead. */
function describeForLog(error: unknown): string {
  const loggable = (error as { query?: unknown; cause?: unknown })?.query !== undefined ? (error as { cause?: unknown }).cause : error;
  return loggable instanceof Error ? (loggable.stack ?? loggable.message) : String(loggable);
}
