import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GRACE_SECONDS = 2;
/** Lifetimes for the expiry tests: long enough that a slow request on a loaded machine still fits. */
const IDLE_SECONDS = 4;
const ABSOLUTE_SECONDS = 8;
const maxAgeOf = (setCookie: string[] | string | undefined) => {
  const cookie = [setCookie ?? []].flat().find((c) => /refresh_token=/.test(c)) ?? '';
  return Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
};

describe('POST /auth/refresh: rotation, grace window, theft detection', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A two-second grace window keeps "after the window" tests quick, and is still far longer than
    // two back-to-back refreshes take on a loaded 2-core machine ("inside the window" tests).
    t = await startApp({ REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS), CORS_ORIGINS: 'https://app.example' });
  });
  afterAll(async () => {
    await t.close();
  });

  const refresh = (cookie: string) => t.http().post('/auth/refresh').set('Cookie', cookie);

  test('rotates: a new access token, a new refresh cookie, no-store', async () => {
    const user = await registerAndLogin(t);
    const response = await refresh(user.cookie).expect(200);
    expect(response.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900, sessionId: user.sessionId });
    expect(response.headers['cache-control']).toBe('no-store');
    const next = refreshCookieOf(response.headers['set-cookie']);
    expect(next).toMatch(/^__Secure-refresh_token=.+/);
    expect(next).not.toBe(user.cookie);
    await t.http().get('/users/me').set(bearer(response.body.accessToken)).expect(200);
    // The successor rotates further; the chain goes on.
    const third = await refresh(next).expect(200);
    expect(refreshCookieOf(third.headers['set-cookie'])).not.toBe(next);
  });

  test('the just-rotated token inside the grace window returns the same successor and a fresh access token', async () => {
    const user = await registerAndLogin(t);
    const first = await refresh(user.cookie).expect(200);
    const again = await refresh(user.cookie).expect(200);
    expect(refreshCookieOf(again.headers['set-cookie'])).toBe(refreshCookieOf(first.headers['set-cookie']));
    expect(again.body.accessToken).not.toBe(first.body.accessToken);
    await t.http().get('/users/me').set(bearer(again.body.accessToken)).expect(200);
  });

  test('replaying a rotated token after the window is refresh_reused and ends the whole session', async () => {
    const user = await registerAndLogin(t);
    const first = await refresh(user.cookie).expect(200);
    const second = await refresh(refreshCookieOf(first.headers['set-cookie'])).expect(200);
    await sleep(GRACE_SECONDS * 1000 + 200);
    const replay = await refresh(user.cookie).expect(401);
    expect(replay.body.code).toBe('refresh_reused');
    // The newest refresh token and every access token of the session are dead.
    const newest = await refresh(refreshCookieOf(second.headers['set-cookie'])).expect(401);
    expect(newest.body.code).toBe('invalid_refresh_token');
    for (const token of [user.accessToken, first.body.accessToken, second.body.accessToken]) {
      expect((await t.http().get('/users/me').set(bearer(token)).expect(401)).body.code).toBe('session_revoked');
    }
  });

  test('a grandparent token is reuse even inside the grace window', async () => {
    const user = await registerAndLogin(t);
    const first = await refresh(user.cookie).expect(200);
    const second = await refresh(refreshCookieOf(first.headers['set-cookie'])).expect(200);
    const replay = await refresh(user.cookie).expect(401);
    expect(replay.body.code).toBe('refresh_reused');
    await refresh(refreshCookieOf(second.headers['set-cookie'])).expect(401);
  });

  test('twenty parallel refreshes with one token: all 200, one successor, one chain', async () => {
    const user = await registerAndLogin(t);
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(user.cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const successors = new Set(responses.map((r) => refreshCookieOf(r.headers['set-cookie'])));
    expect(successors.size).toBe(1);
    const [successor] = successors;
    const next = await refresh(successor).expect(200);
    // Still one chain: every access token handed out works.
    for (const r of [...responses, next]) await t.http().get('/users/me').set(bearer(r.body.accessToken)).expect(200);
  });

  test('a native client refreshes with the token in the body and gets the successor in the body', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    const response = await t.http().post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200);
    expect(response.body.refreshToken).toEqual(expect.any(String));
    expect(response.body.refreshToken).not.toBe(login.body.refreshToken);
    expect(refreshCookieOf(response.headers['set-cookie'])).toBe('');
    await t.http().post('/auth/refresh').send({ refreshToken: response.body.refreshToken }).expect(200);
  });

  test('missing, malformed and made-up tokens are 401 invalid_refresh_token and end nothing', async () => {
    const user = await registerAndLogin(t);
    expect((await t.http().post('/auth/refresh').expect(401)).body.code).toBe('invalid_refresh_token');
    expect((await t.http().post('/auth/refresh').send({ refreshToken: 'nonsense' }).expect(401)).body.code).toBe('invalid_refresh_token');
    const madeUp = `${user.userId}.${user.sessionId}.${'x'.repeat(43)}`;
    expect((await t.http().post('/auth/refresh').send({ refreshToken: madeUp }).expect(401)).body.code).toBe('invalid_refresh_token');
    await refresh(user.cookie).expect(200);
    expect((await t.http().post('/auth/refresh').send({ refreshToken: 42 }).expect(400)).body.code).toBe('validation_failed');
  });

  test('a cookie refresh from a foreign Origin is 403 forbidden_origin and does not consume the token', async () => {
    const user = await registerAndLogin(t);
    const refused = await refresh(user.cookie).set('Origin', 'https://evil.example').expect(403);
    expect(refused.body.code).toBe('forbidden_origin');
    // Had the refused request rotated the token, presenting it after the grace window would be reuse.
    await sleep(GRACE_SECONDS * 1000 + 200);
    await refresh(user.cookie).expect(200);
    // The server's own origin and CORS_ORIGINS are allowed.
    const user2 = await registerAndLogin(t);
    await refresh(user2.cookie).set('Origin', 'https://app.example').expect(200);
  });

  test('logout ends refresh too', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await refresh(user.cookie).expect(401);
  });

  test('logging out with an older refresh token of the chain ends the session (it is reuse)', async () => {
    const user = await registerAndLogin(t);
    await refresh(user.cookie).expect(200);
    await t.http().post('/auth/logout').set('Cookie', user.cookie).expect(204);
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
  });

  test('a cookie client cannot get the refresh token into the body: refreshToken must be a string if present', async () => {
    const user = await registerAndLogin(t);
    const response = await refresh(user.cookie).send({ refreshToken: null }).expect(400);
    expect(response.body.errors[0].field).toBe('refreshToken');
    const ok = await refresh(user.cookie).send({}).expect(200);
    expect(ok.body.refreshToken).toBeUndefined();
    expect(refreshCookieOf(ok.headers['set-cookie'])).not.toBe('');
  });

  test("the server's own origin is allowed", async () => {
    const user = await registerAndLogin(t);
    await refresh(user.cookie).set('Host', 'tessera.test').set('Origin', 'http://tessera.test').expect(200);
    await refresh(user.cookie).set('Host', 'tessera.test').set('Origin', 'https://tessera.test').expect(403);
  });
});

describe('lifetimes: idle expiry slides, the absolute one never moves', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      REFRESH_TOKEN_TTL: `${IDLE_SECONDS}s`,
      SESSION_MAX_LIFETIME: `${ABSOLUTE_SECONDS}s`,
      REFRESH_REUSE_GRACE_SECONDS: '0',
    });
  });
  afterAll(async () => {
    await t.close();
  });
  const refresh = (cookie: string) => t.http().post('/auth/refresh').set('Cookie', cookie);

  test('access tokens never outlive their session: login, refresh and reauthentication all cap exp at its end', async () => {
    const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { iat: number; exp: number };
    const user = await registerAndLogin(t);
    const started = Math.floor(Date.now() / 1000);
    // ACCESS_TOKEN_TTL is 15 minutes, the session lives IDLE_SECONDS unless refreshed.
    const login = claims(user.accessToken);
    expect(login.exp - login.iat).toBeLessThanOrEqual(IDLE_SECONDS);
    const refreshed = await refresh(user.cookie).expect(200);
    expect(refreshed.body.expiresIn).toBeLessThanOrEqual(IDLE_SECONDS);
    const afterRefresh = claims(refreshed.body.accessToken);
    expect(afterRefresh.exp - afterRefresh.iat).toBe(refreshed.body.expiresIn);
    expect(afterRefresh.exp).toBeLessThanOrEqual(started + ABSOLUTE_SECONDS + 1);
    const reauth = await t
      .http()
      .post('/auth/reauthenticate')
      .set(bearer(refreshed.body.accessToken))
      .send({ password: PASSWORD })
      .expect(200);
    expect(reauth.body.expiresIn).toBeLessThanOrEqual(IDLE_SECONDS);
    expect(claims(reauth.body.accessToken).exp).toBeLessThanOrEqual(afterRefresh.iat + IDLE_SECONDS + 1);
  });

  test('a session idle longer than REFRESH_TOKEN_TTL is gone', async () => {
    const user = await registerAndLogin(t);
    await sleep(IDLE_SECONDS * 1000 + 300);
    await refresh(user.cookie).expect(401);
    expect((await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401)).body.code).toBe('session_revoked');
  });

  test('refreshing slides the idle expiry until the absolute lifetime ends the session', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    expect(maxAgeOf(login.headers['set-cookie'])).toBeLessThanOrEqual(IDLE_SECONDS);
    let cookie = refreshCookieOf(login.headers['set-cookie']);
    const started = Date.now();
    // Every half idle window: each refresh lands well inside it (2 s to spare for a slow request), so
    // the session lives on past the first idle window…
    for (let i = 0; i < 2; i++) {
      await sleep((IDLE_SECONDS * 1000) / 2);
      const response = await refresh(cookie).expect(200);
      cookie = refreshCookieOf(response.headers['set-cookie']);
      const remainingAbsolute = ABSOLUTE_SECONDS - (Date.now() - started) / 1000;
      expect(maxAgeOf(response.headers['set-cookie'])).toBeLessThanOrEqual(Math.ceil(remainingAbsolute));
    }
    // …but not past SESSION_MAX_LIFETIME, however recently it was refreshed.
    await sleep(Math.max(0, ABSOLUTE_SECONDS * 1000 + 100 - (Date.now() - started)));
    await refresh(cookie).expect(401);
  });
});

describe('sessions page, logout everywhere, password change, the cap', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_SESSIONS_PER_USER: '3' });
  });
  afterAll(async () => {
    await t.close();
  });

  const loginAs = (email: string, userAgent: string) =>
    t.http().post('/auth/login').set('User-Agent', userAgent).send({ email, password: PASSWORD }).expect(200);

  test('GET /auth/sessions lists live sessions with device, IP, times and current', async () => {
    const user = await registerAndLogin(t, { userAgent: 'Laptop/1.0' });
    const phone = await loginAs(user.email, 'Phone/2.0');
    const list = await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200);
    expect(list.body).toHaveLength(2);
    const byId = Object.fromEntries(list.body.map((s: { id: string }) => [s.id, s]));
    expect(byId[user.sessionId]).toEqual({
      id: user.sessionId,
      current: true,
      createdAt: expect.stringMatching(/Z$/),
      lastUsedAt: expect.stringMatching(/Z$/),
      expiresAt: expect.stringMatching(/Z$/),
      userAgent: 'Laptop/1.0',
      ip: expect.stringMatching(/127\.0\.0\.1|::1/),
      amr: ['pwd'],
      acr: 'urn:tessera:aal1',
    });
    expect(byId[phone.body.sessionId]).toMatchObject({ current: false, userAgent: 'Phone/2.0' });
    expect(list.body[0].id).toBe(phone.body.sessionId); // most recently used first
  });

  test('DELETE /auth/sessions/:id ends that session only; unknown and foreign ids are 404', async () => {
    const user = await registerAndLogin(t);
    const other = await loginAs(user.email, 'Other');
    await t.http().delete(`/auth/sessions/${other.body.sessionId}`).set(bearer(user.accessToken)).expect(204);
    await t.http().get('/users/me').set(bearer(other.body.accessToken)).expect(401);
    await t.http().post('/auth/refresh').set('Cookie', refreshCookieOf(other.headers['set-cookie'])).expect(401);
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    expect((await t.http().delete('/auth/sessions/nosuchsessionxxxxxxxxx').set(bearer(user.accessToken)).expect(404)).body.code).toBe(
      'not_found',
    );

    // Ids name sessions only, never other keys of the user (the grace copy, the revoke marker).
    await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    for (const id of [`${user.sessionId}:g`, 'nbf', '../x']) {
      await t
        .http()
        .delete(`/auth/sessions/${encodeURIComponent(id)}`)
        .set(bearer(user.accessToken))
        .expect(404);
    }

    const stranger = await registerAndLogin(t);
    await t.http().delete(`/auth/sessions/${stranger.sessionId}`).set(bearer(user.accessToken)).expect(404);
    await t.http().get('/users/me').set(bearer(stranger.accessToken)).expect(200);
  });

  test('logout-all-devices ends every session of the user at once', async () => {
    const user = await registerAndLogin(t);
    const second = await loginAs(user.email, 'B');
    const third = await loginAs(user.email, 'C');
    const response = await t.http().post('/auth/logout-all-devices').set(bearer(second.body.accessToken)).expect(204);
    expect(response.headers['set-cookie']?.[0]).toMatch(/Max-Age=0/);
    for (const token of [user.accessToken, second.body.accessToken, third.body.accessToken]) {
      await t.http().get('/users/me').set(bearer(token)).expect(401);
    }
    for (const cookie of [user.cookie, refreshCookieOf(third.headers['set-cookie'])]) {
      await t.http().post('/auth/refresh').set('Cookie', cookie).expect(401);
    }
  });

  test('POST /auth/password keeps this session, ends the others, and changes the password', async () => {
    const user = await registerAndLogin(t);
    const other = await loginAs(user.email, 'Other');
    const wrong = await t
      .http()
      .post('/auth/password')
      .set(bearer(user.accessToken))
      .send({ currentPassword: 'not my password', newPassword: 'a brand new password' })
      .expect(400);
    expect(wrong.body.errors).toEqual([{ field: 'currentPassword', message: expect.any(String) }]);
    await t.http().get('/users/me').set(bearer(other.body.accessToken)).expect(200);

    await t
      .http()
      .post('/auth/password')
      .set(bearer(user.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: 'short' })
      .expect(400);
    await t
      .http()
      .post('/auth/password')
      .set(bearer(user.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: 'a brand new password' })
      .expect(204);
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    await t.http().get('/users/me').set(bearer(other.body.accessToken)).expect(401);
    await t.http().post('/auth/refresh').set('Cookie', refreshCookieOf(other.headers['set-cookie'])).expect(401);
    await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(401);
    await t.http().post('/auth/login').send({ email: user.email, password: 'a brand new password' }).expect(200);
  });

  test('a login beyond MAX_SESSIONS_PER_USER ends the least recently used session', async () => {
    const user = await registerAndLogin(t, { userAgent: 'A' });
    const b = await loginAs(user.email, 'B');
    const c = await loginAs(user.email, 'C');
    // A refreshes, so B is now the least recently used.
    await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    const d = await loginAs(user.email, 'D');
    await t.http().get('/users/me').set(bearer(b.body.accessToken)).expect(401);
    for (const token of [user.accessToken, c.body.accessToken, d.body.accessToken])
      await t.http().get('/users/me').set(bearer(token)).expect(200);
    const list = await t.http().get('/auth/sessions').set(bearer(d.body.accessToken)).expect(200);
    expect(list.body.map((s: { userAgent: string }) => s.userAgent).sort()).toEqual(['A', 'C', 'D']);
  });
});

describe('refresh without a grace window', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ REFRESH_REUSE_GRACE_SECONDS: '0', TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('twenty parallel refreshes with one token: one wins, the rest are reuse, and the session ends', async () => {
    const user = await registerAndLogin(t);
    // One client address each, so the low refresh limit of this suite does not interfere.
    const net = `10.9.${randomInt(256)}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t
          .http()
          .post('/auth/refresh')
          .set('X-Forwarded-For', `${net}.${i + 1}`)
          .set('Cookie', user.cookie),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const refused = responses.filter((r) => r.status !== 200);
    expect(refused.every((r) => r.status === 401 && ['refresh_reused', 'invalid_refresh_token'].includes(r.body.code))).toBe(true);
    expect(refused.some((r) => r.body.code === 'refresh_reused')).toBe(true);
    const winner = responses.find((r) => r.status === 200)!;
    await t.http().get('/users/me').set(bearer(winner.body.accessToken)).expect(401);
  });
});

describe('refresh rate limits and origins', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_REFRESH_LIMIT: '3', TRUST_PROXY: 'loopback', PUBLIC_ORIGIN: 'https://auth.example' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('requests refused for their Origin consume neither the token nor the rate limit', async () => {
    const user = await registerAndLogin(t);
    const ip = `10.7.${randomInt(256)}.${randomInt(1, 255)}`;
    for (let i = 0; i < 5; i++) {
      await t
        .http()
        .post('/auth/refresh')
        .set('X-Forwarded-For', ip)
        .set('Cookie', user.cookie)
        .set('Origin', 'https://evil.example')
        .expect(403);
    }
    // PUBLIC_ORIGIN is this server's origin as browsers see it.
    await t
      .http()
      .post('/auth/refresh')
      .set('X-Forwarded-For', ip)
      .set('Cookie', user.cookie)
      .set('Origin', 'https://auth.example')
      .expect(200);
  });

  test('refresh is rate limited per account across IPs', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    let token = (await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200)).body.refreshToken;
    for (let i = 0; i < 3; i++) {
      const ok = await t
        .http()
        .post('/auth/refresh')
        .set('X-Forwarded-For', `10.6.${randomInt(256)}.${i + 1}`)
        .send({ refreshToken: token })
        .expect(200);
      token = ok.body.refreshToken;
    }
    await t
      .http()
      .post('/auth/refresh')
      .set('X-Forwarded-For', `10.5.${randomInt(256)}.9`)
      .send({ refreshToken: token })
      .expect(429);
  });

  test('refresh is rate limited per IP (THROTTLE_REFRESH_LIMIT)', async () => {
    const ip = `10.8.${randomInt(256)}.${randomInt(1, 255)}`;
    for (let i = 0; i < 3; i++) await t.http().post('/auth/refresh').set('X-Forwarded-For', ip).expect(401);
    const limited = await t.http().post('/auth/refresh').set('X-Forwarded-For', ip).expect(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
