import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from './sessions/session.service.js';

/** Longest user agent kept for the sessions page; real ones are about 100 to 150 characters. */
export const MAX_USER_AGENT_LENGTH = 192;

/** Device metadata for the sessions page; `request.ip` honours TRUST_PROXY (Fastify trustProxy). */
export function clientInfo(request: FastifyRequest): ClientInfo {
  const userAgent = String(request.headers['user-agent'] ?? '')
    .replace(/[^\x20-\x7e]/g, '?') // printable ASCII only: one byte per character in the store
    .slice(0, MAX_USER_AGENT_LENGTH);
  return { userAgent, ip: request.ip };
}

/** The raw Bearer token, if the request sent one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
