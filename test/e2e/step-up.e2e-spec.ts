import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { SecurityEventsRepository } from '../../src/audit/security-events.repository.js';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/*
 * Step-up (RFC 9470): @RecentAuth() routes (here the email change) want a proof of identity at
 * most REAUTH_MAX_AGE old; POST /auth/reauthenticate gives the same session a new one.
 * Tests never race the clock in the direction a slow machine breaks: what must pass runs right
 * after a login or a reauthentication, in an app whose maximum age is seconds long; what must fail
 * waits well past it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
const MAX_AGE = 4;
/** auth_time is whole seconds, so a token looks up to a second older than it is: wait past max age + 1 s. */
const PAST_MAX_AGE_MS = (MAX_AGE + 1.5) * 1000;
const WRONG = 'not the right password at all';

describe('step-up: @RecentAuth() and POST /auth/reauthenticate', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ REAUTH_MAX_AGE: `${MAX_AGE}s` });
  });
  afterAll(async () => {
    await t.close();
  });

  const changeEmail = (token: string, password = PASSWORD) =>
    t
      .http()
      .post('/auth/email/change')
      .set(bearer(token))
      .send({ newEmail: uniqueEmail('new'), currentPassword: password });
  const reauthenticate = (token: string, password = PASSWORD) =>
    t.http().post('/auth/reauthenticate').set(bearer(token)).send({ password });

  test('a fresh login passes @RecentAuth()', async () => {
    const user = await registerAndLogin(t);
    await changeEmail(user.accessToken).expect(202);
  });

  describe('once the login is older than REAUTH_MAX_AGE', () => {
    let user: Awaited<ReturnType<typeof registerAndLogin>>;
    beforeAll(async () => {
      user = await registerAndLogin(t);
      await sleep(PAST_MAX_AGE_MS);
    });

    test('the email change answers 401 reauthentication_required with the RFC 9470 challenge', async () => {
      const response = await changeEmail(user.accessToken).expect(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['www-authenticate']).toBe(`Bearer error="insufficient_user_authentication", max_age=${MAX_AGE}`);
      expect(response.body).toMatchObject({ status: 401, code: 'reauthentication_required' });
      expect(response.headers['cache-control']).toBe('no-store');
    });

    test('the same token still works where no recent authentication is needed', async () => {
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200);
    });

    test('a refresh does not make the session recently authenticated', async () => {
      const refreshed = await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
      user.cookie = refreshCookieOf(refreshed.headers['set-cookie']);
      expect(claimsOf(refreshed.body.accessToken).auth_time).toBe(claimsOf(user.accessToken).auth_time);
      await changeEmail(refreshed.body.accessToken).expect(401);
    });

    test('a wrong password is 401 invalid_credentials and changes nothing', async () => {
      const response = await reauthenticate(user.accessToken, WRONG).expect(401);
      expect(response.body).toMatchObject({ code: 'invalid_credentials' });
      await changeEmail(user.accessToken).expect(401);
      const [listed] = (await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200)).body;
      expect(listed).toMatchObject({ id: user.sessionId, amr: ['pwd'], acr: 'urn:tessera:aal1' });
    });

    test('reauthenticating gives the same session a new access token that passes; the old one still works elsewhere', async () => {
      const before = claimsOf(user.accessToken);
      const response = await reauthenticate(user.accessToken).expect(200);
      expect(response.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
      expect(response.headers['cache-control']).toBe('no-store');
      // The refresh token is unchanged: no cookie is set.
      expect(response.headers['set-cookie']).toBeUndefined();
      const fresh = response.body.accessToken as string;
      const claims = claimsOf(fresh);
      expect(claims).toMatchObject({ sub: user.userId, sid: user.sessionId, amr: ['pwd'], acr: 'urn:tessera:aal1' });
      expect(claims.auth_time).toBeGreaterThan(before.auth_time as number);
      await changeEmail(fresh).expect(202);

      // The earlier token: still fine for ordinary routes, still too old for the email change.
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await changeEmail(user.accessToken).expect(401);

      // The session stored the new proof: its (unchanged) refresh token now yields the new auth_time.
      const refreshed = await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
      expect(claimsOf(refreshed.body.accessToken).auth_time).toBe(claims.auth_time);
      const sessions = (await t.http().get('/auth/sessions').set(bearer(fresh)).expect(200)).body;
      expect(sessions).toEqual([expect.objectContaining({ id: user.sessionId, amr: ['pwd'], acr: 'urn:tessera:aal1' })]);
    });

    test('both outcomes are recorded as reauthenticated security events, without the password', async () => {
      const events = await t.app.get(SecurityEventsRepository).list({ userId: user.userId, type: 'reauthenticated' }, 10);
      expect(events.map((e) => [e.outcome, e.sessionId, e.details])).toEqual(
        expect.arrayContaining([
          ['success', user.sessionId, { amr: ['pwd'], acr: 'urn:tessera:aal1' }],
          ['failure', user.sessionId, { reason: 'wrong_password' }],
        ]),
      );
      expect(JSON.stringify(events)).not.toContain(WRONG);
    });
  });

  test('Swagger documents the step-up: the 401 of @RecentAuth() routes and POST /auth/reauthenticate with examples', async () => {
    const doc = (await t.http().get('/docs-json').expect(200)).body;
    const change = doc.paths['/auth/email/change'].post;
    expect(change.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
    expect(change.responses['401'].description).toContain('reauthentication_required');
    const changeExamples = change.responses['401'].content['application/problem+json'].examples;
    expect(changeExamples.reauthentication_required.value).toMatchObject({ status: 401, code: 'reauthentication_required' });
    expect(Object.keys(changeExamples)).toEqual(expect.arrayContaining(['missing_token', 'invalid_token', 'session_revoked']));

    const reauth = doc.paths['/auth/reauthenticate'].post;
    expect(reauth.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
    expect(reauth.requestBody.content['application/json'].examples.password.value).toEqual({ password: expect.any(String) });
    expect(reauth.responses['200'].content['application/json'].schema.$ref).toMatch(/ReauthenticatedTokenDto$/);
    expect(Object.keys(reauth.responses['401'].content['application/problem+json'].examples)).toEqual(
      expect.arrayContaining(['invalid_credentials', 'missing_token']),
    );
    expect(reauth.responses['429']).toBeDefined();
  });

  test('reauthenticate needs a Bearer token of a live session and a password', async () => {
    expect((await t.http().post('/auth/reauthenticate').send({ password: PASSWORD }).expect(401)).body.code).toBe('missing_token');
    const user = await registerAndLogin(t);
    expect((await t.http().post('/auth/reauthenticate').set(bearer(user.accessToken)).send({}).expect(400)).body.code).toBe(
      'validation_failed',
    );
    await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    expect((await reauthenticate(user.accessToken).expect(401)).body.code).toBe('session_revoked');
  });
});

describe('reauthentication and the login lockout', () => {
  const LIMIT = 3;
  const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_LOGIN_LIMIT: String(LIMIT), TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('wrong passwords count against the account like failed logins', async () => {
    const email = uniqueEmail('stepup');
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const login = () => t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD });
    const token = (await login().expect(200)).body.accessToken as string;
    for (let i = 0; i < LIMIT; i++) {
      const response = await t
        .http()
        .post('/auth/reauthenticate')
        .set('X-Forwarded-For', clientIp())
        .set(bearer(token))
        .send({ password: WRONG });
      expect(response.status).toBe(401);
    }
    const locked = await login().expect(429);
    expect(locked.body.code).toBe('rate_limited');
  });

  test('wrong TOTP codes count against the account like failed logins too', async () => {
    const email = uniqueEmail('stepup-code');
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const login = () => t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD });
    const token = (await login().expect(200)).body.accessToken as string;
    const secret = (await t.http().post('/auth/mfa/totp').set('X-Forwarded-For', clientIp()).set(bearer(token)).expect(200)).body
      .secret as string;
    const step = Math.floor(Date.now() / 30_000);
    const clock = jest.spyOn(t.app.get(MfaClock), 'now').mockReturnValue(step * 30_000 + 15_000);
    try {
      const totp = new TOTP({ secret: Secret.fromBase32(secret) });
      const codeAt = (s: number) => totp.generate({ timestamp: s * 30_000 });
      await t
        .http()
        .post('/auth/mfa/totp/confirm')
        .set('X-Forwarded-For', clientIp())
        .set(bearer(token))
        .send({ code: codeAt(step) })
        .expect(200);
      const window = new Set([step - 1, step, step + 1].map(codeAt));
      const wrong = ['000000', '111111', '222222', '333333', '444444'].filter((c) => !window.has(c));
      for (let i = 0; i < LIMIT; i++) {
        const response = await t
          .http()
          .post('/auth/reauthenticate')
          .set('X-Forwarded-For', clientIp())
          .set(bearer(token))
          .send({ code: wrong[i] });
        expect(response.body.code).toBe('invalid_code');
      }
    } finally {
      clock.mockRestore();
    }
    expect((await login().expect(429)).body.code).toBe('rate_limited');
  });

  test("the owner's device cookie exempts reauthentication from a lockout others caused, as at login", async () => {
    const email = uniqueEmail('stepup');
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const owner = await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(200);
    const device = ([] as string[])
      .concat(owner.headers['set-cookie'] ?? [])
      .find((c) => /^(__Secure-)?device=/.test(c))!
      .split(';')[0];
    for (let i = 0; i < LIMIT; i++) {
      await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: WRONG }).expect(401);
    }
    const reauthenticate = (cookie?: string) => {
      const call = t.http().post('/auth/reauthenticate').set('X-Forwarded-For', clientIp()).set(bearer(owner.body.accessToken));
      return (cookie ? call.set('Cookie', cookie) : call).send({ password: PASSWORD });
    };
    expect((await reauthenticate().expect(429)).body.code).toBe('rate_limited');
    await reauthenticate(device).expect(200);
  });

  test('a native client sends its deviceToken in the body for the same exemption', async () => {
    const email = uniqueEmail('stepup-native');
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const owner = await t
      .http()
      .post('/auth/login')
      .set('X-Forwarded-For', clientIp())
      .send({ email, password: PASSWORD, client: 'native' })
      .expect(200);
    expect(owner.body.deviceToken).toEqual(expect.any(String));
    for (let i = 0; i < LIMIT; i++) {
      await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: WRONG }).expect(401);
    }
    const reauthenticate = (body: object) =>
      t.http().post('/auth/reauthenticate').set('X-Forwarded-For', clientIp()).set(bearer(owner.body.accessToken)).send(body);
    expect((await reauthenticate({ password: PASSWORD }).expect(429)).body.code).toBe('rate_limited');
    await reauthenticate({ password: PASSWORD, deviceToken: owner.body.deviceToken }).expect(200);
  });
});
