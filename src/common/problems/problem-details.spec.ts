import { describe, expect, test } from '@jest/globals';
import { BadRequestException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { DependencyUnavailableError } from './dependency-error.js';
import { Problems } from './problem.js';
import { toProblem } from './problem-details.js';

describe('problem details', () => {
  test('a ProblemException renders its code, status and headers', () => {
    const rendered = toProblem(Problems.rateLimited(7), '/auth/login');
    expect(rendered.status).toBe(429);
    expect(rendered.headers).toEqual({ 'Retry-After': '7', 'Cache-Control': 'no-store' });
    expect(rendered.body).toMatchObject({
      code: 'rate_limited',
      status: 429,
      instance: '/auth/login',
      type: 'urn:tessera:problem:rate_limited',
    });
  });

  test('dependency failures are 503 service_unavailable, however they are wrapped', () => {
    expect(toProblem(new DependencyUnavailableError('redis')).body.code).toBe('service_unavailable');
    const pgDown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(toProblem(new Error('query failed', { cause: pgDown })).status).toBe(503);
    expect(toProblem(new ServiceUnavailableException()).status).toBe(503);
    // A database too slow to answer (pg's client-side query_timeout, or a statement cancelled by the server).
    expect(toProblem(new Error('Failed query', { cause: new Error('Query read timeout') })).status).toBe(503);
    expect(toProblem(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })).status).toBe(503);
  });

  test('Nest and Fastify errors map to codes', () => {
    expect(toProblem(new NotFoundException('Cannot GET /x')).body).toMatchObject({ code: 'not_found', detail: 'Cannot GET /x' });
    expect(toProblem(new BadRequestException('nope')).body.code).toBe('bad_request');
    expect(toProblem(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).status).toBe(413);
  });

  test('unexpected errors are a bare 500 that reveals nothing', () => {
    const rendered = toProblem(new Error('secret internals at /srv/app.js:12'));
    expect(rendered.status).toBe(500);
    expect(rendered.unexpected).toBe(true);
    expect(rendered.headers).toEqual({ 'Cache-Control': 'no-store' });
    expect(JSON.stringify(rendered.body)).not.toContain('secret internals');
  });
});
