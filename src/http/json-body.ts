import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Problems } from '../common/problems/problem.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './json-depth.js';

/** The OAuth endpoints (RFC 7662, RFC 7009): the only routes that take form bodies, and only those. */
export const OAUTH_PREFIX = '/oauth/';

/**
 * The matched route's pattern, not the request URL: routing precedes body parsing, and
 * `/oauth/../auth/login` is routed to /auth/login (a check on `request.url` would accept it).
 */
const isOAuthRoute = (request: FastifyRequest) => request.routeOptions.url?.startsWith(OAUTH_PREFIX) === true;

/** Form bodies are small: a token and a hint. */
export const FORM_BODY_LIMIT = 8 * 1024;

/**
 * Only JSON bodies are accepted: anything else is 415, not a string that fails validation. An empty
 * JSON body (e.g. `POST /auth/logout` with a JSON content type) means "no body", not 400; a body
 * nested deeper than MAX_JSON_DEPTH is refused before parsing.
 * The exception is /oauth/*, which takes form bodies only (the RFCs say so). Form bodies are never
 * accepted elsewhere: a cross-site HTML form can send one without a CORS preflight (CSRF).
 */
export function acceptJsonBodiesOnly(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('text/plain');
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (isOAuthRoute(request)) done(Problems.unsupportedMediaType('Send request bodies as application/x-www-form-urlencoded'), undefined);
    else if (body === '' || (typeof body === 'string' && body.trim() === '')) done(null, undefined);
    // Refused before parsing, so nothing recursive ever sees it (see json-depth.ts).
    else if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) done(Problems.tooDeep(MAX_JSON_DEPTH), undefined);
    else void parseJson(request, body as string, (error, value) => (error ? done(Problems.malformedJson(), undefined) : done(null, value)));
  });
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (!isOAuthRoute(request)) return done(Problems.unsupportedMediaType(), undefined);
    // Checked here rather than with Fastify's bodyLimit, so the 413 names this limit (BODY_LIMIT still caps the read).
    if ((body as string).length > FORM_BODY_LIMIT) return done(Problems.payloadTooLarge(FORM_BODY_LIMIT), undefined);
    const form = parseForm(body as string);
    if (form === undefined) return done(Problems.invalidRequest('A parameter is repeated; send each at most once'), undefined);
    done(null, form);
  });
}

/**
 * A form body as a null-prototype object of strings (no `__proto__` tricks); undefined when a
 * parameter is repeated, which RFC 6749 §3.1 forbids (and which would make "which one counts" a question).
 */
export function parseForm(body: string): Record<string, string> | undefined {
  const form = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(form, name)) return undefined;
    form[name] = value;
  }
  return form;
}
