import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/** A fresh client address per test, so counters in a shared Redis never collide between runs. */
const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const LIMITS = { THROTTLE_LOGIN_LIMIT: '3', THROTTLE_LIMIT: '4', THROTTLE_TTL: '60s' };

describe('rate limits (behind a trusted proxy)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...LIMITS, TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  const login = (ip: string, email: string) => t.http().post('/auth/login').set('X-Forwarded-For', ip).send({ email, password: PASSWORD });

  test('login is limited per IP: the 4th attempt is 429 rate_limited with Retry-After', async () => {
    const ip = clientIp();
    for (let i = 0; i < 3; i++) expect((await login(ip, uniqueEmail())).status).toBe(401);
    const limited = await login(ip, uniqueEmail()).expect(429);
    expect(limited.body.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another client is unaffected.
    expect((await login(clientIp(), uniqueEmail())).status).toBe(401);
  });

  test('the second step of a login counts against the same per-IP limit as logins', async () => {
    const ip = clientIp();
    // The first step is the first attempt; a well-formed but unknown mfaToken is enough here.
    expect((await login(ip, uniqueEmail())).status).toBe(401);
    const second = () =>
      t
        .http()
        .post('/auth/login/mfa')
        .set('X-Forwarded-For', ip)
        .send({ mfaToken: 'A'.repeat(43), code: '123456' });
    for (let i = 0; i < 2; i++) expect((await second()).body.code).toBe('invalid_mfa_token');
    const limited = await second().expect(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  test('login is limited per account across IPs, even with the right password', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    for (let i = 0; i < 3; i++)
      expect(
        (
          await t
            .http()
            .post('/auth/login')
            .set('X-Forwarded-For', clientIp())
            .send({ email: email.toUpperCase(), password: 'wrong password!' })
        ).status,
      ).toBe(401);
    const limited = await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(429);
    expect(limited.body.code).toBe('rate_limited');
  });

  test('register is limited per IP by THROTTLE_LIMIT', async () => {
    const ip = clientIp();
    for (let i = 0; i < 4; i++)
      await t.http().post('/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: PASSWORD }).expect(201);
    await t.http().post('/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: PASSWORD }).expect(429);
  });
});

describe('rate limits without TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The in-process store: this suite's client is 127.0.0.1, which other suites share in Redis.
    t = await startApp({ ...LIMITS, TRUST_PROXY: undefined, REDIS_URL: undefined });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a forged X-Forwarded-For does not dodge the per-IP limit', async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email: uniqueEmail(), password: PASSWORD })).status,
      ).toBe(401);
    }
    await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email: uniqueEmail(), password: PASSWORD }).expect(429);
  });
});

const describeWithRedis = process.env.REDIS_URL ? describe : describe.skip;
describeWithRedis('rate limits are shared by every instance through Redis', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startApp({ ...LIMITS, TRUST_PROXY: 'loopback' });
    b = await startApp({ ...LIMITS, TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  test('attempts on two instances count together', async () => {
    const ip = clientIp();
    const attempt = (t: TestApp) =>
      t.http().post('/auth/login').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: PASSWORD });
    expect((await attempt(a)).status).toBe(401);
    expect((await attempt(b)).status).toBe(401);
    expect((await attempt(a)).status).toBe(401);
    expect((await attempt(b)).status).toBe(429);
  });
});
