import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLoopback } from './loopback.js';
import { addressBucket } from '../common/address-bucket.js';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common/problems/problem-details.js';
import { Problems } from '../common/problems/problem.js';

/**
 * Caps the requests per client whose headers have arrived but whose body has not (yet): each one
 * holds a socket and a parser until REQUEST_TIMEOUT, so without a cap one client can hold
 * thousands. Keyed by the bucket of `request.ip` (which honours TRUST_PROXY, so behind a trusted
 * proxy the forwarded client is counted, not the proxy), as the rate limits are: an IPv6 client
 * by its /64 (it can pick any address in it), and `::ffff:a.b.c.d` as `a.b.c.d`. Loopback clients are exempt (local tooling and
 * benchmarks open many sockets from 127.0.0.1; a local attacker has easier ways).
 *
 * Over the cap: 429 `rate_limited` with `Connection: close`, so the socket is freed at once.
 */
export function limitPendingRequests(fastify: FastifyInstance, maxPerClient: number, retryAfterSeconds: number): void {
  const pending = new Map<string, number>();

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (!hasBody(request) || isLoopback(request.ip)) return done();
    const client = addressBucket(request.ip);
    const count = pending.get(client) ?? 0;
    if (count >= maxPerClient) {
      const problem = toProblem(Problems.rateLimited(retryAfterSeconds), request.url.split('?')[0]);
      reply
        .status(problem.status)
        .headers(problem.headers)
        .header('connection', 'close')
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(problem.body);
      return;
    }
    pending.set(client, count + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (pending.get(client) ?? 1) - 1;
      if (left > 0) pending.set(client, left);
      else pending.delete(client);
    };
    // The body has been read ('end'), or the request is over one way or another ('close' of the
    // request or the response: answered without reading it, aborted, timed out).
    request.raw.once('end', release);
    request.raw.once('close', release);
    reply.raw.once('close', release);
    done();
  });
}

/** Only requests announcing a body can be left unfinished after their headers. */
function hasBody(request: FastifyRequest): boolean {
  const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
  return encoding !== undefined || (length !== undefined && length !== '0');
}
