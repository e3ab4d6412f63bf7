import { generateKeyPairSync, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { bearer, PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { until } from '../support/redis-topologies.js';
import { accessTokenClaims } from '../support/tokens.js';

const CLIENT = 'Basic ' + Buffer.from('example-downstream:development-only-downstream-secret').toString('base64');
const WRONG_CLIENT = 'Basic ' + Buffer.from('example-downstream:not-the-secret').toString('base64');
const FORM = 'application/x-www-form-urlencoded';

describe('RFC 7662 introspection and RFC 7009 revocation (/oauth/*)', () => {
  let t: TestApp;
  let keyDir: string;
  // The app runs on this suite's own key, so the tests can sign tokens as the server does (and not quite).
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  let kid: string;
  const adminEmail = uniqueEmail('oauth-admin');
  let adminToken: string;

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-oauth-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    // No grace window: presenting a rotated refresh token to /auth/refresh is reuse at once, so the
    // tests can tell whether introspection set reuse detection off (it must not).
    t = await startApp({
      JWT_PRIVATE_KEY_FILE: keyFile,
      REFRESH_REUSE_GRACE_SECONDS: '0',
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    });
    kid = (await t.http().get('/.well-known/jwks.json').expect(200)).body.keys[0].kid;
    adminToken = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body.accessToken;
  });
  afterAll(async () => {
    await t.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** A native login: both tokens in the body. */
  async function login() {
    const email = uniqueEmail('oauth');
    const userId = (await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201)).body.id as string;
    const body = (await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200)).body;
    return {
      userId,
      sessionId: body.sessionId as string,
      accessToken: body.accessToken as string,
      refreshToken: body.refreshToken as string,
    };
  }
  type Login = Awaited<ReturnType<typeof login>>;

  /** `authorization: null` sends none. */
  const introspect = (form: Record<string, string> | string, authorization: string | null = CLIENT) => {
    const call = t.http().post('/oauth/introspect').set('Content-Type', FORM);
    if (authorization !== null) call.set('Authorization', authorization);
    return call.send(typeof form === 'string' ? form : new URLSearchParams(form).toString());
  };
  const revoke = (form: Record<string, string> | string, authorization?: string) => {
    const call = t.http().post('/oauth/revoke').set('Content-Type', FORM);
    if (authorization !== undefined) call.set('Authorization', authorization);
    return call.send(typeof form === 'string' ? form : new URLSearchParams(form).toString());
  };
  const expectInactive = async (token: string) => {
    const response = await introspect({ token }).expect(200);
    expect(response.body).toEqual({ active: false });
    expect(response.headers['cache-control']).toBe('no-store');
  };
  const refresh = (refreshToken: string) => t.http().post('/auth/refresh').send({ refreshToken });
  const expectSessionEnded = async (user: Login) => {
    expect((await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401)).body.code).toBe('session_revoked');
    await refresh(user.refreshToken).expect(401);
  };

  /** Signs like the server (ES256, typ at+jwt, its kid), with the claims of `user`'s token plus `overrides`. */
  function sign(user: Login, overrides: Record<string, unknown> = {}, key = privateKey): string {
    return jwt.sign(accessTokenClaims(user, overrides), key, { algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid } });
  }

  describe('introspection', () => {
    test('an access token is active, with its facts and no-store', async () => {
      const user = await login();
      const response = await introspect({ token: user.accessToken, token_type_hint: 'access_token' }).expect(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const claims = jwt.decode(user.accessToken) as Record<string, unknown>;
      expect(response.body).toEqual({
        active: true,
        token_use: 'access',
        sub: user.userId,
        sid: user.sessionId,
        exp: claims.exp,
        iat: claims.iat,
        iss: 'tessera',
        aud: 'tessera-api',
        roles: ['user'],
        auth_time: claims.auth_time,
        acr: 'urn:tessera:aal1',
        amr: ['pwd'],
        jti: claims.jti,
      });
    });

    test('a refresh token is active, with its session facts; introspecting it consumes nothing', async () => {
      const user = await login();
      const before = Math.floor(Date.now() / 1000);
      const response = await introspect({ token: user.refreshToken }).expect(200);
      const claims = jwt.decode(user.accessToken) as Record<string, number>;
      expect(response.body).toEqual({
        active: true,
        token_use: 'refresh',
        sub: user.userId,
        sid: user.sessionId,
        exp: expect.any(Number),
        iat: expect.any(Number),
        iss: 'tessera',
        aud: 'tessera-api',
        roles: ['user'],
        auth_time: claims.auth_time,
        acr: 'urn:tessera:aal1',
        amr: ['pwd'],
      });
      // Idle expiry: REFRESH_TOKEN_TTL (7 days by default) from the login.
      expect(response.body.exp).toBeGreaterThanOrEqual(before + 7 * 86_400 - 5);
      expect(response.body.exp).toBeLessThanOrEqual(before + 7 * 86_400 + 5);
      expect(Math.abs(response.body.iat - before)).toBeLessThanOrEqual(5);
      // Asking again (with the hint) answers alike, and the token still rotates.
      await introspect({ token: user.refreshToken, token_type_hint: 'refresh_token' }).expect(200, response.body);
      await refresh(user.refreshToken).expect(200);
    });

    test('after a rotation the old refresh token is inactive, and introspecting it is not reuse: the session lives on', async () => {
      const user = await login();
      const rotated = (await refresh(user.refreshToken).expect(200)).body;
      await expectInactive(user.refreshToken);
      await expectInactive(user.refreshToken);
      expect((await introspect({ token: rotated.refreshToken }).expect(200)).body).toMatchObject({ active: true, sid: user.sessionId });
      await t.http().get('/users/me').set(bearer(rotated.accessToken)).expect(200);
      await refresh(rotated.refreshToken).expect(200);
    });

    test('after logout both tokens are inactive', async () => {
      const user = await login();
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await expectInactive(user.accessToken);
      await expectInactive(user.refreshToken);
    });

    test('expired, forged, foreign, malformed and unknown tokens are inactive', async () => {
      const user = await login();
      const now = Math.floor(Date.now() / 1000);
      // Sanity: the test's own signing is what the server accepts.
      expect((await introspect({ token: sign(user) }).expect(200)).body.active).toBe(true);
      await expectInactive(sign(user, { iat: now - 1000, exp: now - 60, auth_time: now - 1100 }));
      await expectInactive(sign(user, {}, stranger));
      await expectInactive(sign(user, { iss: 'someone-else' }));
      await expectInactive(sign(user, { aud: 'another-api' }));
      await expectInactive(sign(user, { sid: 'AAAAAAAAAAAAAAAA' }));
      await expectInactive(user.accessToken.slice(0, -4) + (user.accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
      const [userId, sessionId, generation, secret, keyId, tag] = user.refreshToken.split('.');
      await expectInactive(
        [userId, sessionId, generation, secret, keyId, tag.endsWith('A') ? tag.slice(0, -1) + 'B' : tag.slice(0, -1) + 'A'].join('.'),
      );
      await expectInactive([randomUUID(), sessionId, generation, secret, keyId, tag].join('.'));
      for (const garbage of ['garbage', 'a.b.c', '...', '%00', 'x'.repeat(5000)]) await expectInactive(garbage);
      // None of that touched the session.
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    });

    test('no token is invalid_request (400); unknown parameters are ignored; a repeated parameter is refused', async () => {
      for (const body of ['', 'token=', 'token_type_hint=access_token']) {
        const response = await introspect(body).expect(400);
        expect(response.body).toMatchObject({ status: 400, code: 'invalid_request' });
      }
      const user = await login();
      const extra = `token=${encodeURIComponent(user.accessToken)}&client_id=x&resource=y`;
      expect((await introspect(extra).expect(200)).body.active).toBe(true);
      // With a charset parameter, as many HTTP clients send it.
      const withCharset = await t
        .http()
        .post('/oauth/introspect')
        .set('Authorization', CLIENT)
        .set('Content-Type', `${FORM}; charset=UTF-8`)
        .send(`token=${encodeURIComponent(user.accessToken)}`)
        .expect(200);
      expect(withCharset.body.active).toBe(true);
      const repeated = await introspect(`token=${encodeURIComponent(user.accessToken)}&token=garbage`).expect(400);
      expect(repeated.body.code).toBe('invalid_request');
    });

    test("roles are the user's current ones (as Tessera's role checks read them), for both kinds of token", async () => {
      const user = await login();
      await t
        .http()
        .patch(`/admin/users/${user.userId}`)
        .set(bearer(adminToken))
        .send({ roles: ['user', 'auditor'] })
        .expect(200);
      for (const token of [user.accessToken, user.refreshToken]) {
        expect((await introspect({ token }).expect(200)).body).toMatchObject({ active: true, roles: ['user', 'auditor'] });
      }
      // Disabling ends the sessions: both inactive.
      await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send({ disabled: true }).expect(200);
      await expectInactive(user.accessToken);
      await expectInactive(user.refreshToken);
    });

    test('client authentication is required: none or a wrong one is 401 invalid_client with WWW-Authenticate: Basic', async () => {
      const user = await login();
      for (const authorization of [null, WRONG_CLIENT, bearer(user.accessToken).Authorization, 'Basic !!!']) {
        const response = await introspect({ token: user.accessToken }, authorization).expect(401);
        expect(response.body.code).toBe('invalid_client');
        expect(response.body.active).toBeUndefined();
        expect(response.headers['www-authenticate']).toMatch(/^Basic realm="tessera"/);
      }
    });
  });

  describe('revocation', () => {
    test('revoking a refresh token ends its session', async () => {
      const user = await login();
      await revoke({ token: user.refreshToken, token_type_hint: 'refresh_token' }).expect(200, '');
      await expectSessionEnded(user);
      await expectInactive(user.accessToken);
    });

    test('revoking an access token ends its session', async () => {
      const user = await login();
      const response = await revoke({ token: user.accessToken }).expect(200);
      expect(response.text).toBe('');
      expect(response.headers['cache-control']).toBe('no-store');
      await expectSessionEnded(user);
    });

    test('an older refresh token of the chain ends the session too (as a logout does)', async () => {
      const user = await login();
      const rotated = (await refresh(user.refreshToken).expect(200)).body;
      await revoke({ token: user.refreshToken }).expect(200);
      await t.http().get('/users/me').set(bearer(rotated.accessToken)).expect(401);
    });

    test('with a service credential too; a wrong credential is 401 and ends nothing', async () => {
      const user = await login();
      expect((await revoke({ token: user.refreshToken }, WRONG_CLIENT).expect(401)).body.code).toBe('invalid_client');
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await revoke({ token: user.refreshToken }, CLIENT).expect(200);
      await expectSessionEnded(user);
    });

    test('an ended session is a security event session.revoked with reason oauth_revoke (and the client, if any)', async () => {
      const anonymous = await login();
      const byService = await login();
      await revoke({ token: anonymous.accessToken }).expect(200);
      await revoke({ token: byService.refreshToken }, CLIENT).expect(200);
      const revokedOf = async (userId: string) =>
        (
          await t.http().get('/admin/audit-events').query({ userId, type: 'session.revoked' }).set(bearer(adminToken)).expect(200)
        ).body.items.map((e: { sessionId: string; details: unknown }) => ({ sessionId: e.sessionId, details: e.details }));
      let events: unknown[] = [];
      await until('both events are recorded', async () => {
        events = [...(await revokedOf(anonymous.userId)), ...(await revokedOf(byService.userId))];
        return events.length === 2;
      });
      expect(events).toEqual([
        { sessionId: anonymous.sessionId, details: { reason: 'oauth_revoke' } },
        { sessionId: byService.sessionId, details: { reason: 'oauth_revoke', client: 'example-downstream' } },
      ]);
    });

    test('unknown, forged, expired and garbage tokens are 200 and end nothing', async () => {
      const user = await login();
      const now = Math.floor(Date.now() / 1000);
      const [userId, sessionId, generation, secret, keyId, tag] = user.refreshToken.split('.');
      const forgedRefresh = [
        userId,
        sessionId,
        generation,
        secret,
        keyId,
        tag.endsWith('A') ? tag.slice(0, -1) + 'B' : tag.slice(0, -1) + 'A',
      ];
      for (const token of [
        'garbage',
        'a.b.c',
        forgedRefresh.join('.'),
        sign(user, {}, stranger),
        sign(user, { iat: now - 1000, exp: now - 60, auth_time: now - 1100 }),
      ]) {
        await revoke({ token }).expect(200, '');
      }
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await refresh(user.refreshToken).expect(200);
      // Revoking an already ended session is 200 too.
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await revoke({ token: user.accessToken }).expect(200, '');
    });

    test('no token is 400 invalid_request', async () => {
      expect((await revoke('').expect(400)).body.code).toBe('invalid_request');
    });
  });

  describe('form bodies are accepted on /oauth/* only', () => {
    test('JSON to /oauth/* is 415', async () => {
      const user = await login();
      for (const route of ['/oauth/introspect', '/oauth/revoke']) {
        const response = await t.http().post(route).set('Authorization', CLIENT).send({ token: user.refreshToken }).expect(415);
        expect(response.body.code).toBe('unsupported_media_type');
      }
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    });

    test('a form to any other route is 415 and nothing happens, also through /oauth/../', async () => {
      const email = uniqueEmail('form');
      const form = (route: string, body: Record<string, string>) =>
        t.http().post(route).set('Content-Type', FORM).send(new URLSearchParams(body).toString());
      expect((await form('/auth/register', { email, password: PASSWORD }).expect(415)).body.code).toBe('unsupported_media_type');
      // Not registered: the JSON registration of the same email succeeds.
      await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
      await form('/auth/login', { email, password: PASSWORD }).expect(415);
      await form('/oauth/../auth/login', { email, password: PASSWORD }).expect(415);
      const native = (await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200)).body;
      await form('/auth/refresh', { refreshToken: native.refreshToken }).expect(415);
      await form('/auth/logout', { refreshToken: native.refreshToken }).expect(415);
      await form('/oauth/../auth/logout', { refreshToken: native.refreshToken }).expect(415);
      // The session is untouched: the refresh token still rotates (it was neither used nor revoked).
      await refresh(native.refreshToken).expect(200);
    });

    test('the OpenAPI document shows form bodies and the service credential', async () => {
      const doc = (await t.http().get('/docs-json').expect(200)).body;
      for (const path of ['/oauth/introspect', '/oauth/revoke']) {
        const operation = doc.paths[path].post;
        expect(Object.keys(operation.requestBody.content)).toEqual([FORM]);
        expect(operation.tags).toEqual(['other services']);
        expect(operation.security).toEqual(expect.arrayContaining([{ 'service-client': [] }]));
      }
      expect(doc.paths['/oauth/revoke'].post.security).toEqual(expect.arrayContaining([{}]));
    });

    test('a form body over 8 KiB is 413', async () => {
      const response = await introspect(`token=${'a'.repeat(9000)}`).expect(413);
      expect(response.body.code).toBe('payload_too_large');
    });
  });
});

/** A fresh client address per test, so counters in a shared Redis never collide between runs. */
const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describe('/oauth/*: failed client authentications are limited per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_LOGIN_LIMIT: '3', THROTTLE_LIMIT: '3', TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('after THROTTLE_LOGIN_LIMIT failures further wrong secrets wait (429); the right credential never does', async () => {
    const ip = clientIp();
    const introspect = (authorization: string, from = ip) =>
      t
        .http()
        .post('/oauth/introspect')
        .set('X-Forwarded-For', from)
        .set('Content-Type', FORM)
        .set('Authorization', authorization)
        .send('token=garbage');
    // An authenticated service introspecting on every request is not throttled (THROTTLE_LIMIT is 3 here).
    for (let i = 0; i < 10; i++) await introspect(CLIENT).expect(200, { active: false });
    for (let i = 0; i < 3; i++) await introspect(WRONG_CLIENT).expect(401);
    const limited = await introspect(WRONG_CLIENT).expect(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The real service at the same address (a NAT, a sidecar) is not locked out by the guesser.
    await introspect(CLIENT).expect(200);
    // Another address is unaffected.
    await introspect(WRONG_CLIENT, clientIp()).expect(401);
  });

  test('revocation without a credential is limited per address like other public writes (THROTTLE_LIMIT)', async () => {
    const ip = clientIp();
    const revoke = () => t.http().post('/oauth/revoke').set('X-Forwarded-For', ip).set('Content-Type', FORM).send('token=garbage');
    for (let i = 0; i < 3; i++) await revoke().expect(200);
    expect((await revoke().expect(429)).body.code).toBe('rate_limited');
  });
});
