import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ROTATE_SESSION } from '../../src/auth/sessions/redis-session.scripts.js';
import { bearer, PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { DelayingProxy, sleep } from '../support/services.js';

/*
 * A rotation the server could not confirm must never turn the client's retry into reuse. Redis is
 * made slow for exactly one rotation (a proxy holds that command back past the app's deadline):
 * the client gets 503, and the rotation must then not have happened, so the same token still
 * works after the grace window instead of being taken for a stolen one.
 */
const describeWithRedis = process.env.REDIS_URL ? describe : describe.skip;
const COMMAND_TIMEOUT_MS = 300;
const HELD_MS = 1200;

describeWithRedis('a rotation answered with 503 did not happen', () => {
  let proxy: DelayingProxy;
  let t: TestApp;
  beforeAll(async () => {
    const target = new URL(process.env.REDIS_URL!);
    proxy = await DelayingProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    t = await startApp({ REDIS_URL: proxy.url, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), REFRESH_REUSE_GRACE_SECONDS: '1' });
  });
  afterAll(async () => {
    await t.close();
    await proxy.close();
  });

  test('the retry after the grace window rotates instead of answering refresh_reused', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    // One ordinary rotation first, so the script is loaded and later rotations are a single EVALSHA.
    const first = await t.http().post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200);
    const token = first.body.refreshToken as string;

    proxy.delayNext((chunk) => chunk.includes(ROTATE_SESSION.sha), HELD_MS);
    const slow = await t.http().post('/auth/refresh').send({ refreshToken: token });
    expect(slow.status).toBe(503);
    expect(slow.body.code).toBe('service_unavailable');

    // The held rotation reaches Redis, then the grace window passes; Redis answers again.
    await sleep(HELD_MS + 1000 + 800);
    for (let i = 0; i < 50 && (await t.http().get('/health/ready')).status !== 200; i++) await sleep(100);

    const retry = await t.http().post('/auth/refresh').send({ refreshToken: token });
    expect(retry.body.code).toBeUndefined();
    expect(retry.status).toBe(200);
    await t.http().get('/users/me').set(bearer(retry.body.accessToken)).expect(200);
    await t.http().post('/auth/refresh').send({ refreshToken: retry.body.refreshToken }).expect(200);
  });
});
