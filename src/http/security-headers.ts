import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's headers, computed once. They do not depend on the request, yet @fastify/helmet runs
 * helmet (and re-parses the CSP) on every request: about a tenth of a trivial request's CPU here.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number) => {
      headers[name] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name];
    },
  };
  let completed = false;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {
    completed = true;
  });
  if (!completed) throw new Error('helmet did not complete synchronously');
  return headers;
}
