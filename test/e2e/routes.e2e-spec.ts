import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.setup.js';

/** Routes meant to be reachable without an access token. Adding one here is a security decision. */
const PUBLIC_ROUTES = new Set([
  'POST /auth/register',
  'POST /auth/login',
  // The second step of a login: the mfaToken of the first step is the credential.
  'POST /auth/login/mfa',
  'POST /auth/logout',
  'POST /auth/refresh',
  // The account lifecycle: links from mails work without a session; verification takes an optional Bearer.
  'POST /auth/email/verification',
  'POST /auth/email/verify',
  'POST /auth/password/forgot',
  'POST /auth/password/reset',
  // Passwordless login: the options (a challenge) and the assertion.
  'POST /auth/passkeys/login/options',
  'POST /auth/passkeys/login',
  'GET /.well-known/jwks.json',
  // RFC 7662 / RFC 7009: service credentials (HTTP Basic), or for revocation the token itself; form bodies only.
  'POST /oauth/introspect',
  'POST /oauth/revoke',
  // Other services: authenticated by a service credential (SERVICE_CLIENTS, HTTP Basic), not a user token.
  'GET /auth/revocations',
  'GET /health/live',
  'GET /health/ready',
  'GET /metrics',
  'GET /demo',
]);
/** Static content served by Fastify plugins (Swagger UI, the demo page's assets): public by design. */
const isDocs = (url: string) =>
  url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs-') || url.startsWith('/docs*') || url.startsWith('/demo/');

describe('deny by default: every route is public on purpose or guarded', () => {
  let app: NestFastifyApplication;
  let dataDir: string;
  const routes: { method: string; url: string }[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-routes-'));
    process.env.DATA_DIR = dataDir;
    process.env.LOG_LEVEL = 'silent';
    app = await createApp();
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (route: { method: string | string[]; url: string }) => {
        for (const method of [route.method].flat()) if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url: route.url });
      });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    delete process.env.DATA_DIR;
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the route table was collected', () => {
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(expect.arrayContaining(['GET /users/me', 'POST /auth/login']));
  });

  test('every route not listed as public answers 401 missing_token without a token', async () => {
    const guarded = routes.filter((r) => !PUBLIC_ROUTES.has(`${r.method} ${r.url}`) && !isDocs(r.url));
    expect(guarded.length).toBeGreaterThan(3);
    for (const route of guarded) {
      const url = route.url.replace(/:[A-Za-z]+/g, randomUUID());
      const response = await request(app.getHttpServer())[route.method.toLowerCase() as 'get'](url).send({});
      expect({ route: `${route.method} ${route.url}`, status: response.status, code: response.body.code }).toEqual({
        route: `${route.method} ${route.url}`,
        status: 401,
        code: 'missing_token',
      });
    }
  });

  test('every route on the public list exists (a typo there would hide nothing, but mislead)', async () => {
    const served = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const route of PUBLIC_ROUTES) {
      const [method, url] = route.split(' ');
      // Routes added by Fastify plugins before the hook above (the demo page) are checked by a request.
      const exists = served.has(route) || (method === 'GET' && (await request(app.getHttpServer()).get(url)).status !== 404);
      expect({ route, exists }).toEqual({ route, exists: true });
    }
  });

  test('the public GET routes answer without a token', async () => {
    for (const route of ['/health/live', '/.well-known/jwks.json', '/metrics', '/docs-json', '/demo']) {
      expect({ route, status: (await request(app.getHttpServer()).get(route)).status }).toEqual({ route, status: 200 });
    }
  });

  test('the OpenAPI document marks every guarded operation with Bearer security', async () => {
    const document = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
    };
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const key = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
        const bearer = (operation.security ?? []).some((s) => 'bearer' in s);
        if (PUBLIC_ROUTES.has(key)) continue;
        expect({ key, bearer }).toEqual({ key, bearer: true });
      }
    }
  });
});
