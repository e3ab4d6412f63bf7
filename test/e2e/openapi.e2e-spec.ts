import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { registerAndLogin, startApp, uniqueEmail, type TestApp } from '../support/app.js';

interface MediaType {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface OpenApi {
  info: { version: string };
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes?: Record<string, { type: string; in?: string }> };
}

const examplesOf = (media: MediaType): unknown[] => [
  ...(media.example === undefined ? [] : [media.example]),
  ...Object.values(media.examples ?? {}).map((example) => example.value),
];

/** What a person meets in Swagger UI, checked on the document it renders (GET /docs-json). */
describe('the OpenAPI document as Swagger UI shows it', () => {
  let t: TestApp;
  let doc: OpenApi;
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
    );

  beforeAll(async () => {
    t = await startApp();
    doc = (await t.http().get('/docs-json').expect(200)).body as OpenApi;
  });
  afterAll(async () => {
    await t.close();
  });

  test('info.version is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
  });

  test('tags come in the order a person explores, auth first, and every used tag is listed', () => {
    const order = (doc.tags ?? []).map((tag) => tag.name);
    expect(order[0]).toBe('auth');
    expect(order).toEqual(['auth', 'mfa', 'passkeys', 'sessions', 'users', 'admin', 'keys', 'other services', 'operations']);
    const used = new Set(operations().flatMap(({ operation }) => operation.tags ?? []));
    for (const tag of used) expect(order).toContain(tag);
  });

  test('refresh and logout pre-fill no refresh token: the body example is empty, so the browser cookie is used', () => {
    for (const path of ['/auth/refresh', '/auth/logout']) {
      const body = doc.paths[path].post.requestBody!;
      expect(body.required).toBeFalsy();
      const media = body.content['application/json'];
      const examples = examplesOf(media);
      expect(examples.length).toBeGreaterThan(0);
      // Swagger UI pre-fills the first example: an empty object.
      expect(examples[0]).toEqual({});
      expect(JSON.stringify(examples)).not.toContain('refreshToken');
    }
    const schema = (doc as unknown as { components: { schemas: Record<string, { properties: Record<string, { example?: unknown }> }> } })
      .components.schemas.RefreshTokenBodyDto;
    expect(schema.properties.refreshToken.example).toBeUndefined();
  });

  test('login documents both answers: the tokens, or the second-factor challenge', () => {
    const media = doc.paths['/auth/login'].post.responses['200'] as unknown as {
      content: Record<string, { schema: { oneOf?: { $ref: string }[] } }>;
    };
    expect(media.content['application/json'].schema.oneOf).toEqual([
      { $ref: '#/components/schemas/TokenResponseDto' },
      { $ref: '#/components/schemas/MfaChallengeDto' },
    ]);
    const schemas = (doc as unknown as { components: { schemas: Record<string, { required?: string[] }> } }).components.schemas;
    expect(schemas.MfaChallengeDto.required).toEqual(expect.arrayContaining(['mfaRequired', 'mfaToken', 'methods']));
  });

  test('no Authorize box for the HttpOnly refresh cookie: the schemes are the bearer token and the service credential', () => {
    const schemes = doc.components.securitySchemes ?? {};
    expect(schemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      'service-client': expect.objectContaining({ type: 'http', scheme: 'basic' }),
    });
    for (const { operation } of operations()) {
      for (const requirement of operation.security ?? []) for (const name of Object.keys(requirement)) expect(schemes).toHaveProperty(name);
    }
    // Logout works with the cookie alone: the bearer token is optional there.
    expect(doc.paths['/auth/logout'].post.security).toEqual(expect.arrayContaining([{}, { bearer: [] }]));
  });

  test('every 4xx/5xx response is application/problem+json with an example of its own status and a real code', () => {
    let checked = 0;
    for (const { route, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!/^[45]\d\d$/.test(status)) continue;
        checked++;
        const content = response.content ?? {};
        expect({ route, status, types: Object.keys(content) }).toEqual({ route, status, types: ['application/problem+json'] });
        const examples = examplesOf(content['application/problem+json']) as { status: number; code: string; type: string }[];
        expect({ route, status, count: examples.length > 0 }).toEqual({ route, status, count: true });
        for (const example of examples) {
          expect({ route, status: example.status }).toEqual({ route, status: Number(status) });
          expect(example.type).toBe(`urn:tessera:problem:${example.code}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  test('the documented examples are what the routes answer', async () => {
    const login = doc.paths['/auth/login'].post.responses['401'].content!['application/problem+json'];
    const [example] = examplesOf(login) as { code: string; title: string; detail: string }[];
    const answer = await t.http().post('/auth/login').send({ email: 'nobody@example.com', password: 'not the password' }).expect(401);
    expect(answer.body).toMatchObject({ code: example.code, title: example.title, detail: example.detail });

    const me = doc.paths['/users/me'].get.responses['401'].content!['application/problem+json'];
    const codes = examplesOf(me).map((e) => (e as { code: string }).code);
    expect(codes).toEqual(expect.arrayContaining(['missing_token', 'invalid_token', 'token_expired', 'session_revoked']));
    expect((await t.http().get('/users/me').expect(401)).body.code).toBe('missing_token');

    // Register's 400 offers the password policy's answer too, as the route gives it.
    const register = doc.paths['/auth/register'].post.responses['400'].content!['application/problem+json'];
    const weak = (examplesOf(register) as { code: string; title: string; detail: string }[]).find((e) => e.code === 'weak_password');
    expect(weak).toBeDefined();
    const refused = await t.http().post('/auth/register').send({ email: uniqueEmail(), password: 'passwordpassword' }).expect(400);
    expect(refused.body).toMatchObject({ code: weak!.code, title: weak!.title, detail: weak!.detail });
  });

  test('refresh with an empty JSON body, as Swagger UI sends it, uses the cookie', async () => {
    const { cookie } = await registerAndLogin(t);
    await t.http().post('/auth/refresh').set('Cookie', cookie).set('Content-Type', 'application/json').send({}).expect(200);
  });
});
