import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { MemorySessionStore } from '../../src/auth/sessions/memory-session.store.js';
import { sessionKey } from '../../src/auth/sessions/redis-session.store.js';
import { SESSION_STORE, type SessionStore } from '../../src/auth/sessions/session-store.js';
import { REDIS } from '../../src/redis/redis.module.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

describe('auth_time, amr and acr: set at login, kept by refresh, shown on the sessions page', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const refresh = (cookie: string) => t.http().post('/auth/refresh').set('Cookie', cookie).expect(200);

  test('a password login: auth_time is when the password was checked, amr ["pwd"], acr aal1', async () => {
    const before = Math.floor(Date.now() / 1000);
    const user = await registerAndLogin(t);
    const after = Math.ceil(Date.now() / 1000);
    const claims = claimsOf(user.accessToken);
    expect(claims).toMatchObject({ amr: ['pwd'], acr: 'urn:tessera:aal1' });
    expect(Number.isInteger(claims.auth_time)).toBe(true);
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    expect(claims.auth_time).toBeLessThanOrEqual(after);
    expect(claims.auth_time).toBeLessThanOrEqual(claims.iat as number);
  });

  test('a refresh keeps auth_time, amr and acr: it proves nothing about the user', async () => {
    const user = await registerAndLogin(t);
    const login = claimsOf(user.accessToken);
    // Past a second boundary, so a refreshed auth_time would differ from the login's.
    await sleep(1_100);
    const first = await refresh(user.cookie);
    const second = await refresh(refreshCookieOf(first.headers['set-cookie']));
    for (const response of [first, second]) {
      const claims = claimsOf(response.body.accessToken);
      expect(claims.iat).toBeGreaterThan(login.iat as number);
      expect({ auth_time: claims.auth_time, amr: claims.amr, acr: claims.acr }).toEqual({
        auth_time: login.auth_time,
        amr: ['pwd'],
        acr: 'urn:tessera:aal1',
      });
    }
    await t.http().get('/users/me').set(bearer(second.body.accessToken)).expect(200);
  });

  test('GET /auth/sessions shows each session’s amr and acr', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const list = await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200);
    expect(list.body).toHaveLength(2);
    for (const session of list.body) expect(session).toMatchObject({ amr: ['pwd'], acr: 'urn:tessera:aal1' });
  });

  test('a session stored before these fields existed still refreshes, as a password login at its creation', async () => {
    const user = await registerAndLogin(t);
    // Remove the stored proof, as in a session created by the previous version.
    const store = t.app.get<SessionStore>(SESSION_STORE);
    if (store instanceof MemorySessionStore) {
      const users = (store as unknown as { users: Map<string, Map<string, Record<string, unknown>>> }).users;
      const session = users.get(user.userId)!.get(user.sessionId)!;
      for (const field of ['authTime', 'amr', 'acr']) delete session[field];
    } else {
      const redis = t.app.get<RedisService>(REDIS);
      expect(await redis.run((client) => client.hDel(sessionKey(user.userId, user.sessionId), 'p'))).toBe(1);
    }
    const [listed] = (await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200)).body;
    expect(listed).toMatchObject({ id: user.sessionId, amr: ['pwd'], acr: 'urn:tessera:aal1' });
    const refreshed = await refresh(user.cookie);
    const claims = claimsOf(refreshed.body.accessToken);
    expect(claims).toMatchObject({ amr: ['pwd'], acr: 'urn:tessera:aal1' });
    expect(claims.auth_time).toBe(Math.floor(Date.parse(listed.createdAt) / 1000));
    await t.http().get('/users/me').set(bearer(refreshed.body.accessToken)).expect(200);
  });
});
