import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

describe('errors, health, metrics, JWKS, Swagger', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ METRICS_TOKEN: undefined });
  });
  afterAll(async () => {
    await t.close();
  });

  test('malformed JSON is 400 malformed_json problem details', async () => {
    const response = await t.http().post('/auth/login').set('Content-Type', 'application/json').send('{"email": ').expect(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 400, code: 'malformed_json' });
  });

  test('a body over 16 KiB is 413 payload_too_large', async () => {
    const response = await t
      .http()
      .post('/auth/register')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: uniqueEmail(), password: 'x'.repeat(17 * 1024) }))
      .expect(413);
    expect(response.body.code).toBe('payload_too_large');
  });

  test('a JSON array or string body is 400 validation_failed on body', async () => {
    for (const body of ['[1,2]', '"text"', '42', 'null']) {
      const response = await t.http().post('/auth/login').set('Content-Type', 'application/json').send(body);
      expect({ body, status: response.status, code: response.body.code }).toEqual({ body, status: 400, code: 'validation_failed' });
    }
  });

  test('a non-JSON content type is a 4xx problem, never a 500', async () => {
    const response = await t.http().post('/auth/login').set('Content-Type', 'text/plain').send('email=a');
    expect(response.status).toBe(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  test('errors Fastify raises before routing are problem details too', async () => {
    const longId = await t.http().delete(`/auth/sessions/${'a'.repeat(300)}`);
    expect({ status: longId.status, type: longId.headers['content-type'] }).toEqual({
      status: 414,
      type: expect.stringMatching(/^application\/problem\+json/),
    });
    const badUrl = await t.http().get('/%');
    expect({ status: badUrl.status, code: badUrl.body.code }).toEqual({ status: 400, code: 'bad_request' });
  });

  test('unknown routes are 404 not_found problem details', async () => {
    const response = await t.http().get('/no/such/route').expect(404);
    expect(response.body).toMatchObject({ status: 404, code: 'not_found', type: expect.any(String), title: expect.any(String) });
  });

  test('error bodies never echo the password', async () => {
    const secret = 'my-very-secret-password-123';
    const responses = await Promise.all([
      t.http().post('/auth/login').send({ email: uniqueEmail(), password: secret }),
      t.http().post('/auth/register').send({ email: 'bad', password: secret }),
      t.http().post('/auth/register').send({ email: uniqueEmail(), password: secret, extra: secret }),
    ]);
    for (const response of responses) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(response.body)).not.toContain(secret);
    }
  });

  test('/health/live and /health/ready are 200 with the dependencies up', async () => {
    await t.http().get('/health/live').expect(200, { status: 'ok' });
    const ready = await t.http().get('/health/ready').expect(200);
    expect(ready.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
  });

  test('/metrics exposes request counts and login results in Prometheus format', async () => {
    const user = await registerAndLogin(t);
    await t
      .http()
      .post('/auth/login')
      .send({ email: user.email, password: `${PASSWORD}x` })
      .expect(401);
    const metrics = await t.http().get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/tessera_logins_total\{result="success"\} [1-9]/);
    expect(metrics.text).toMatch(/tessera_logins_total\{result="failure"\} [1-9]/);
    expect(metrics.text).toMatch(/tessera_http_requests_total\{method="POST",route="\/auth\/login",status="200"\} [1-9]/);
    expect(metrics.text).toContain('tessera_http_request_duration_seconds_bucket');
  });

  test('the JWKS publishes the signing key with kid, alg and use, and no private parts', async () => {
    const jwks = await t.http().get('/.well-known/jwks.json').expect(200);
    expect(jwks.body.keys).toHaveLength(1);
    const [key] = jwks.body.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(key.d).toBeUndefined();
    const user = await registerAndLogin(t);
    const header = JSON.parse(Buffer.from(user.accessToken.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: key.kid });
  });

  test('access tokens carry the contract claims', async () => {
    const user = await registerAndLogin(t);
    const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1], 'base64url').toString());
    expect(claims).toEqual({
      iss: 'tessera',
      aud: 'tessera-api',
      sub: user.userId,
      sid: user.sessionId,
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
      roles: ['user'],
      auth_time: expect.any(Number),
      amr: ['pwd'],
      acr: 'urn:tessera:aal1',
    });
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims.auth_time).toBeLessThanOrEqual(claims.iat);
  });

  test('Swagger UI answers at /docs and the OpenAPI document at /docs-json with the bearer scheme', async () => {
    const ui = await t.http().get('/docs').redirects(2).expect(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = await t.http().get('/docs-json').expect(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    // The HttpOnly refresh cookie is no scheme (Swagger UI would offer a useless box): openapi.e2e-spec.ts.
    expect(doc.body.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
    for (const path of ['/auth/register', '/auth/login', '/auth/logout', '/users/me', '/admin/users/{id}', '/.well-known/jwks.json']) {
      expect(doc.body.paths[path]).toBeDefined();
    }
  });

  test('responses carry a request id and security headers', async () => {
    const response = await t.http().get('/health/live').set('x-request-id', 'trace-123').expect(200);
    expect(response.headers['x-request-id']).toBe('trace-123');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ METRICS_TOKEN: 'scrape-secret' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('wants the token', async () => {
    await t.http().get('/metrics').expect(401);
    expect((await t.http().get('/metrics').set('Authorization', 'Bearer wrong').expect(401)).body.code).toBe('invalid_token');
    await t.http().get('/metrics').set('Authorization', 'Bearer scrape-secret').expect(200);
  });
});
