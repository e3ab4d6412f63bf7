import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from './sessions/session.service.js';

/** Device metadata for the sessions page; `request.ip` honours TRUST_PROXY (Fastify trustProxy). */
export function clientInfo(request: FastifyRequest): ClientInfo {
  return { userAgent: String(request.headers['user-agent'] ?? '').slice(0, 256), ip: request.ip };
}

/** The raw Bearer token, if the request sent one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
