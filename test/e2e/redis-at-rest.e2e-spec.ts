import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createClient } from 'redis';
import { indexKey } from '../../src/auth/sessions/redis-session.store.js';
import { refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';

const describeRedis = process.env.REDIS_URL ? describe : describe.skip;

describeRedis('what Redis holds for a session', () => {
  let t: TestApp;
  const redis = createClient({ url: process.env.REDIS_URL });

  beforeAll(async () => {
    await redis.connect();
    t = await startApp({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_LIFETIME: '2h', REFRESH_REUSE_GRACE_SECONDS: '10' });
  });
  afterAll(async () => {
    await t.close();
    await redis.close();
  });

  test('hashes only, every key with a TTL no longer than its session, the successor sealed', async () => {
    const user = await registerAndLogin(t);
    const response = await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    const tokens = [user.cookie, refreshCookieOf(response.headers['set-cookie'])].map((c) => c.split('=')[1]);
    const secrets = tokens.map((token) => token.split('.')[3]);
    expect(secrets.every((secret) => secret.length === 43)).toBe(true);

    const idx = indexKey(user.userId);
    const keys = await redis.keys(`${idx}*`);
    expect(keys.sort()).toEqual([idx, `${idx}:${user.sessionId}`, `${idx}:${user.sessionId}:g`].sort());

    const session = await redis.hGetAll(`${idx}:${user.sessionId}`);
    const grace = (await redis.get(`${idx}:${user.sessionId}:g`))!;
    const stored = JSON.stringify(session) + grace;
    for (const secret of secrets) expect(stored).not.toContain(secret);

    const ttl = async (key: string) => redis.pTTL(key);
    const hour = 3600_000;
    const sessionTtl = await ttl(`${idx}:${user.sessionId}`);
    expect(sessionTtl).toBeGreaterThan(hour - 60_000);
    expect(sessionTtl).toBeLessThanOrEqual(hour);
    const graceTtl = await ttl(`${idx}:${user.sessionId}:g`);
    expect(graceTtl).toBeGreaterThan(0);
    expect(graceTtl).toBeLessThanOrEqual(10_000);
    const indexTtl = await ttl(idx);
    expect(indexTtl).toBeGreaterThan(0);
    expect(indexTtl).toBeLessThanOrEqual(2 * hour);
  });

  test('logout leaves nothing of the session behind', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    await t.http().post('/auth/logout-all-devices').set('Authorization', `Bearer ${user.accessToken}`).expect(204);
    // Only the marker that refuses logins in flight remains, briefly.
    const idx = indexKey(user.userId);
    expect(await redis.keys(`${idx}*`)).toEqual([`${idx}:nbf`]);
    expect(await redis.pTTL(`${idx}:nbf`)).toBeLessThanOrEqual(5 * 60_000);
  });
});
