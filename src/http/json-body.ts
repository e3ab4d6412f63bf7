import type { FastifyInstance } from 'fastify';
import { Problems } from '../common/problems/problem.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './json-depth.js';

/**
 * Only JSON bodies are accepted: anything else is 415, not a string that fails validation. An empty
 * JSON body (e.g. `POST /auth/logout` with a JSON content type) means "no body", not 400; a body
 * nested deeper than MAX_JSON_DEPTH is refused before parsing.
 */
export function acceptJsonBodiesOnly(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('text/plain');
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) done(null, undefined);
    // Refused before parsing, so nothing recursive ever sees it (see json-depth.ts).
    else if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) done(Problems.tooDeep(MAX_JSON_DEPTH), undefined);
    else void parseJson(request, body as string, (error, value) => (error ? done(Problems.malformedJson(), undefined) : done(null, value)));
  });
}
