import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { createClient } from 'redis';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/*
 * Lockout without malicious lockout: the per-account login limit counts only failed password
 * checks, keyed by a hash of the email (existing or not); a device token from an earlier
 * successful login exempts its holder; the refresh limit charges an account only for tokens whose
 * server tag verifies.
 */
const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const LIMIT = 3;
const WRONG = 'not the right password at all';
const deviceCookieOf = (setCookie: string | string[] | undefined) =>
  ([] as string[]).concat(setCookie ?? []).find((c) => /^(__Secure-)?device=/.test(c));

describe('login lockout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_LOGIN_LIMIT: String(LIMIT), THROTTLE_REFRESH_LIMIT: String(LIMIT), TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  const login = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).set(headers).send(body);
  const register = async () => {
    const email = uniqueEmail('owner');
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    return email;
  };
  const failTimes = async (email: string, times = LIMIT, headers: Record<string, string> = {}) => {
    for (let i = 0; i < times; i++) expect((await login({ email, password: WRONG }, headers)).status).toBe(401);
  };

  test('bodies refused by validation count for nothing: the owner still logs in', async () => {
    const email = await register();
    for (const body of [
      { email, password: 42 },
      { email, password: WRONG, extra: 'field' },
      { email, password: WRONG, client: 'toaster' },
      { email, password: 'x'.repeat(5000) },
    ]) {
      for (let i = 0; i < LIMIT + 1; i++) expect((await login(body)).status).toBe(400);
    }
    await login({ email, password: PASSWORD }).expect(200);
  });

  test('failed password checks lock the account, across IPs, even for the right password', async () => {
    const email = await register();
    await failTimes(email);
    const locked = await login({ email, password: PASSWORD }).expect(429);
    expect(locked.body.code).toBe('rate_limited');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  test('parallel guesses cannot race past the account limit: at most THROTTLE_LOGIN_LIMIT password checks', async () => {
    const email = await register();
    const answers = await Promise.all(Array.from({ length: 20 }, () => login({ email, password: WRONG })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
  });

  test('a 429 does not reveal whether the account exists', async () => {
    const real = await register();
    const unknown = uniqueEmail('nobody');
    await failTimes(real);
    await failTimes(unknown);
    const strip = (body: Record<string, unknown>) => ({ ...body, instance: undefined, detail: undefined });
    const a = await login({ email: real, password: WRONG }).expect(429);
    const b = await login({ email: unknown, password: WRONG }).expect(429);
    expect(strip(a.body)).toEqual(strip(b.body));
  });

  test('a browser that logged in before holds a device cookie that exempts it from the account lockout', async () => {
    const email = await register();
    const first = await login({ email, password: PASSWORD }).expect(200);
    const device = deviceCookieOf(first.headers['set-cookie']);
    expect(device).toBeDefined();
    expect(device).toMatch(/; HttpOnly/);
    expect(device).toMatch(/; SameSite=Strict/);
    expect(device).toMatch(/; Path=\/auth(;|$)/);
    expect(device).toMatch(/; Secure/);
    expect(Number(/Max-Age=(\d+)/.exec(device!)![1])).toBeGreaterThan(364 * 86400);
    await failTimes(email); // the attacker locks the account
    await login({ email, password: PASSWORD }).expect(429); // a new device is locked out
    const owner = await login({ email, password: PASSWORD }, { Cookie: device!.split(';')[0] }).expect(200); // the owner is not
    // The owner can see what happened: failed checks, then the lockout that refused the new device.
    const activity = await t.http().get('/auth/activity?limit=100').set('Authorization', `Bearer ${owner.body.accessToken}`).expect(200);
    const types = (activity.body.items as { type: string }[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['login.locked', 'login.failed', 'login.succeeded']));
  });

  test('a native client gets deviceToken in the body and is exempt when it sends it back', async () => {
    const email = await register();
    const first = await login({ email, password: PASSWORD, client: 'native' }).expect(200);
    expect(first.body.deviceToken).toEqual(expect.any(String));
    expect(deviceCookieOf(first.headers['set-cookie'])).toBeUndefined();
    await failTimes(email);
    await login({ email, password: PASSWORD, client: 'native' }).expect(429);
    const exempt = await login({ email, password: PASSWORD, client: 'native', deviceToken: first.body.deviceToken }).expect(200);
    expect(exempt.body.refreshToken).toEqual(expect.any(String));
  });

  test("another account's device token, or a forged one, exempts nothing", async () => {
    const victim = await register();
    const other = await register();
    const otherDevice = (await login({ email: other, password: PASSWORD, client: 'native' }).expect(200)).body.deviceToken as string;
    await failTimes(victim);
    await login({ email: victim, password: PASSWORD, client: 'native', deviceToken: otherDevice }).expect(429);
    const parts = otherDevice.split('.');
    parts[parts.length - 1] = 'A'.repeat(parts[parts.length - 1].length);
    await login({ email: victim, password: PASSWORD, client: 'native', deviceToken: parts.join('.') }).expect(429);
    await login({ email: victim, password: PASSWORD, client: 'native', deviceToken: 'garbage' }).expect(429);
  });

  test('a device token that keeps failing loses its exemption (it may have been stolen)', async () => {
    const email = await register();
    const device = (await login({ email, password: PASSWORD, client: 'native' }).expect(200)).body.deviceToken as string;
    for (let i = 0; i < LIMIT; i++)
      expect((await login({ email, password: WRONG, client: 'native', deviceToken: device })).status).toBe(401);
    await login({ email, password: PASSWORD, client: 'native', deviceToken: device }).expect(429);
  });

  test('a device token does not exempt from the per-IP limit', async () => {
    const email = await register();
    const device = (await login({ email, password: PASSWORD, client: 'native' }).expect(200)).body.deviceToken as string;
    const ip = clientIp();
    const fromIp = (password: string) =>
      t.http().post('/auth/login').set('X-Forwarded-For', ip).send({ email, password, client: 'native', deviceToken: device });
    for (let i = 0; i < LIMIT; i++) await fromIp(PASSWORD).expect(200);
    await fromIp(PASSWORD).expect(429);
  });
});

describe('refresh limits charge an account only for genuine tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_REFRESH_LIMIT: String(LIMIT), TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  test("garbage naming a user's id does not block that user's refreshes", async () => {
    const email = uniqueEmail();
    const registered = await t
      .http()
      .post('/auth/register')
      .set('X-Forwarded-For', clientIp())
      .send({ email, password: PASSWORD })
      .expect(201);
    const login = await t
      .http()
      .post('/auth/login')
      .set('X-Forwarded-For', clientIp())
      .send({ email, password: PASSWORD, client: 'native' })
      .expect(200);
    const userId = registered.body.id as string;
    for (let i = 0; i < LIMIT * 3; i++) {
      const forged = `${userId}.AAAAAAAAAAAAAAAA.0.${'B'.repeat(43)}.CCCCCC.${'D'.repeat(22)}`;
      const response = await t
        .http()
        .post('/auth/refresh')
        .set('X-Forwarded-For', clientIp())
        .send({ refreshToken: i % 2 ? forged : `${userId}.x` });
      expect(response.status).toBe(401);
    }
    await t.http().post('/auth/refresh').set('X-Forwarded-For', clientIp()).send({ refreshToken: login.body.refreshToken }).expect(200);
  });

  test("replaying a dead token of the user's does not block the user's live sessions", async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    const loginNative = () =>
      t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD, client: 'native' }).expect(200);
    const dead = (await loginNative()).body;
    await t.http().post('/auth/logout').send({ refreshToken: dead.refreshToken }).expect(204);
    const live = (await loginNative()).body;
    for (let i = 0; i < LIMIT * 3; i++) {
      expect(
        (await t.http().post('/auth/refresh').set('X-Forwarded-For', clientIp()).send({ refreshToken: dead.refreshToken })).status,
      ).toBe(401);
    }
    await t.http().post('/auth/refresh').set('X-Forwarded-For', clientIp()).send({ refreshToken: live.refreshToken }).expect(200);
  });

  test('genuine refreshes are still limited per account across IPs', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    let token = (
      await t
        .http()
        .post('/auth/login')
        .set('X-Forwarded-For', clientIp())
        .send({ email, password: PASSWORD, client: 'native' })
        .expect(200)
    ).body.refreshToken as string;
    for (let i = 0; i < LIMIT; i++) {
      token = (await t.http().post('/auth/refresh').set('X-Forwarded-For', clientIp()).send({ refreshToken: token }).expect(200)).body
        .refreshToken;
    }
    const limited = await t.http().post('/auth/refresh').set('X-Forwarded-For', clientIp()).send({ refreshToken: token }).expect(429);
    expect(limited.body.code).toBe('rate_limited');
  });
});

const describeWithRedis = process.env.REDIS_URL ? describe : describe.skip;
describeWithRedis('rate-limit keys in Redis', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ THROTTLE_LOGIN_LIMIT: String(LIMIT), TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('hold no plain email', async () => {
    const local = `plainmail-${randomInt(1e9)}`;
    const email = `${local}@example.com`;
    for (let i = 0; i < 2; i++) await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: WRONG });
    const redis = createClient({ url: process.env.REDIS_URL });
    await redis.connect();
    try {
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: 'rl:*', COUNT: 1000 })) keys.push(...(Array.isArray(batch) ? batch : [batch]));
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => key.includes(local))).toEqual([]);
    } finally {
      await redis.close();
    }
  });
});
