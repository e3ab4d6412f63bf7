import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/** A fresh client address per call, so counters in a shared Redis never collide between runs. */
const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

const nestedArray = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const nestedObject = (depth: number) => `${'{"":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('deeply nested JSON bodies', () => {
  let t: TestApp;
  let user: Awaited<ReturnType<typeof registerAndLogin>>;
  beforeAll(async () => {
    t = await startApp();
    user = await registerAndLogin(t);
  });
  afterAll(async () => {
    await t.close();
  });

  const bodies = {
    'top-level array': nestedArray(3000),
    'top-level object': nestedObject(3000),
    'array in a field': `{"email":${nestedArray(3000)},"password":"x"}`,
    'object in a field': `{"email":"a@b.c","password":${nestedObject(3000)}}`,
  };

  test.each(['/auth/register', '/auth/login', '/auth/refresh', '/auth/password'])(
    '%s refuses 3000 levels with 400, never 500',
    async (route) => {
      for (const [label, body] of Object.entries(bodies)) {
        const response = await t.http().post(route).set(bearer(user.accessToken)).set('Content-Type', 'application/json').send(body);
        expect({ label, status: response.status, code: response.body.code, field: response.body.errors?.[0]?.field }).toEqual({
          label,
          status: 400,
          code: 'validation_failed',
          field: 'body',
        });
      }
    },
  );

  test('30 levels are not refused for their depth (the usual validation answers)', async () => {
    const login = await t
      .http()
      .post('/auth/login')
      .set('Content-Type', 'application/json')
      .send(`{"email":${nestedArray(30)},"password":"x"}`);
    expect({ status: login.status, field: login.body.errors?.[0]?.field }).toEqual({ status: 400, field: 'email' });
    const extra = await t
      .http()
      .post('/auth/login')
      .set('Content-Type', 'application/json')
      .send(`{"email":"${user.email}","password":"${PASSWORD}","client":"native","x":${nestedObject(29)}}`);
    expect({ status: extra.status, field: extra.body.errors?.[0]?.field }).toEqual({ status: 400, field: 'x' });
    // Strings that merely contain brackets are not nesting.
    const brackets = await t
      .http()
      .post('/auth/login')
      .send({ email: user.email, password: '['.repeat(100) });
    expect(brackets.status).toBe(401);
  });
});

describe('Cache-Control: no-store on personal data', () => {
  let t: TestApp;
  const adminEmail = uniqueEmail('admin');
  let adminToken: string;
  beforeAll(async () => {
    t = await startApp({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });
    adminToken = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body.accessToken;
  });
  afterAll(async () => {
    await t.close();
  });

  test('on /users/me, /auth/sessions and the admin routes', async () => {
    const user = await registerAndLogin(t);
    const responses = {
      me: await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200),
      sessions: await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200),
      adminGet: await t.http().get(`/admin/users/${user.userId}`).set(bearer(adminToken)).expect(200),
      adminPatch: await t
        .http()
        .patch(`/admin/users/${user.userId}`)
        .set(bearer(adminToken))
        .send({ roles: ['user'] })
        .expect(200),
      adminForbidden: await t.http().get(`/admin/users/${user.userId}`).set(bearer(user.accessToken)).expect(403),
      login: await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200),
      register: await t.http().post('/auth/register').send({ email: uniqueEmail(), password: PASSWORD }).expect(201),
    };
    for (const [name, response] of Object.entries(responses)) {
      expect({ name, cacheControl: response.headers['cache-control'] }).toEqual({ name, cacheControl: 'no-store' });
    }
  });
});

describe('emails with invisible or bidirectional control characters', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const families: Record<string, string[]> = {
    'zero-width': ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF'],
    'bidi embedding/override': ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E'],
    'bidi isolates': ['\u2066', '\u2067', '\u2068', '\u2069'],
    'bidi marks': ['\u200E', '\u200F', '\u061C'],
    'soft hyphen and other format characters': ['\u00AD', '\u180E', '\u{E0041}'],
    'C0 and C1 controls': ['\u0001', '\u001B', '\u007F', '\u0085', '\u009B'],
  };

  test.each(Object.entries(families))('%s: 400 validation_failed on email, on register and login', async (_family, characters) => {
    for (const character of characters) {
      const email = `ad${character}a-${randomInt(1e9)}@example.com`;
      for (const route of ['/auth/register', '/auth/login']) {
        const response = await t.http().post(route).send({ email, password: PASSWORD });
        const codePoint = character.codePointAt(0)!.toString(16);
        expect({ route, codePoint, status: response.status, code: response.body.code, field: response.body.errors?.[0]?.field }).toEqual({
          route,
          codePoint,
          status: 400,
          code: 'validation_failed',
          field: 'email',
        });
      }
    }
  });

  test('ordinary international emails still register and log in', async () => {
    const email = `zoë-${randomInt(1e9)}@exämple.com`;
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    await t.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200);
  });
});

describe('registration: its own per-IP limit and bounded hashing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      TRUST_PROXY: 'loopback',
      THROTTLE_REGISTER_LIMIT: '3',
      THROTTLE_TTL: '60s',
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '1',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const register = (ip: string) =>
    t.http().post('/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: PASSWORD });

  test('THROTTLE_REGISTER_LIMIT per IP: the 4th is 429 rate_limited with Retry-After; another IP is unaffected', async () => {
    const ip = clientIp();
    for (let i = 0; i < 3; i++) expect((await register(ip)).status).toBe(201);
    const limited = await register(ip);
    expect({ status: limited.status, code: limited.body.code }).toEqual({ status: 429, code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await register(clientIp())).status).toBe(201);
  });

  test('a burst from many addresses gets 503 with Retry-After beyond the hashing queue, never 500, and logins keep working', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const burst = Array.from({ length: 24 }, () => register(clientIp()));
    const login = t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD });
    const [loginResponse, ...responses] = await Promise.all([login, ...burst]);
    expect(loginResponse.status).toBe(200);
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
    const refused = responses.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const response of refused) {
      expect(response.body.code).toBe('service_unavailable');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThan(0);
  });
});
