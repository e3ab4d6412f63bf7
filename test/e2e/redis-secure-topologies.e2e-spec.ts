import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import {
  haveRedisServer,
  type LocalCluster,
  type LocalSentinelGroup,
  startCluster,
  startSentinelGroup,
} from '../support/redis-topologies.js';

/**
 * Tessera on real local topologies that require credentials and TLS: a cluster whose only user is
 * an ACL user (the `default` user is off) and whose nodes listen on TLS only, and a Sentinel group
 * whose data nodes and sentinels have their own passwords, TLS only too. The servers' certificate
 * comes from a throwaway CA, trusted through REDIS_TLS_CA_FILE. With the right settings everything
 * works; a wrong password or an untrusted certificate means 503 (never 500) and no crash, and the
 * passwords appear in no log line and no response.
 */
const describeSecure = haveRedisServer() || process.env.CI ? describe : describe.skip;

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const USER = 'tessera-app';

/** Everything logged through Nest's Logger (the Redis module logs there), whatever LOG_LEVEL filters out. */
function captureLogs(): { text: () => string; restore: () => void } {
  const lines: string[] = [];
  const spies = (['log', 'warn', 'error', 'debug', 'verbose', 'fatal'] as const).map((level) =>
    jest.spyOn(Logger.prototype, level).mockImplementation(function (this: Logger, ...args: unknown[]) {
      lines.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join(' '));
    }),
  );
  return { text: () => lines.join('\n'), restore: () => spies.forEach((spy) => spy.mockRestore()) };
}

/** Register, login, a request with the session, refresh, logout: the flows that need Redis. */
async function mainFlows(t: TestApp): Promise<void> {
  await t.http().get('/health/ready').expect(200);
  const user = await registerAndLogin(t);
  await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
  const refreshed = await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
  await t.http().get('/users/me').set(bearer(refreshed.body.accessToken)).expect(200);
  await t.http().post('/auth/logout').set(bearer(refreshed.body.accessToken)).expect(204);
  expect((await t.http().get('/users/me').set(bearer(refreshed.body.accessToken)).expect(401)).body.code).toBe('session_revoked');
}

/** Redis refuses us (or is not trusted): readiness and every request that needs Redis answer 503, never 500. */
async function failsClosed(t: TestApp): Promise<Response[]> {
  const responses = [
    await t.http().get('/health/ready'),
    await t.http().post('/auth/register').send({ email: uniqueEmail(), password: PASSWORD }),
    await t.http().post('/auth/login').send({ email: uniqueEmail(), password: PASSWORD }),
  ];
  expect(responses.map((r) => r.status)).toEqual([503, 503, 503]);
  // Still alive after the errors: liveness answers.
  await t.http().get('/health/live').expect(200);
  return responses;
}

function expectNoSecret(secrets: string[], logs: string, responses: Response[]): void {
  const seen = [logs, ...responses.map((r) => JSON.stringify(r.body) + JSON.stringify(r.headers))].join('\n');
  for (const value of secrets) expect(seen).not.toContain(value);
}

describeSecure('Tessera on a Redis Cluster with an ACL user, a password and TLS only', () => {
  const password = secret('cluster-pw');
  let cluster: LocalCluster;
  let logs: ReturnType<typeof captureLogs>;
  let app: TestApp | undefined;
  const env = (overrides: Record<string, string | undefined> = {}) => ({
    REDIS_URL: undefined,
    REDIS_CLUSTER_NODES: cluster.nodes,
    REDIS_TLS: 'true',
    REDIS_TLS_CA_FILE: cluster.caFile,
    REDIS_USERNAME: USER,
    REDIS_PASSWORD: password,
    ...overrides,
  });

  beforeAll(async () => {
    cluster = await startCluster({ username: USER, password, tls: true });
  });
  afterAll(() => cluster?.stop());
  beforeEach(() => {
    logs = captureLogs();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    logs.restore();
  });

  test('ready, and register, login, refresh and logout work', async () => {
    app = await startApp(env());
    await mainFlows(app);
    expectNoSecret([password], logs.text(), []);
  });

  test('a wrong password: 503 (never 500), no crash, and neither password is logged or answered', async () => {
    const wrong = secret('wrong-pw');
    app = await startApp(env({ REDIS_PASSWORD: wrong }));
    expectNoSecret([password, wrong], logs.text(), await failsClosed(app));
  });

  test('without the CA the nodes are not trusted: 503, not a plain-text fallback', async () => {
    app = await startApp(env({ REDIS_TLS_CA_FILE: undefined }));
    expectNoSecret([password], logs.text(), await failsClosed(app));
  });
});

describeSecure('Tessera on a Sentinel group with passwords on the data nodes and the sentinels, and TLS only', () => {
  const password = secret('data-pw');
  const sentinelPassword = secret('sentinel-pw');
  let group: LocalSentinelGroup;
  let logs: ReturnType<typeof captureLogs>;
  let app: TestApp | undefined;
  const env = (overrides: Record<string, string | undefined> = {}) => ({
    REDIS_URL: undefined,
    REDIS_SENTINELS: group.addresses,
    REDIS_SENTINEL_MASTER: group.name,
    REDIS_TLS: 'true',
    REDIS_TLS_CA_FILE: group.caFile,
    REDIS_USERNAME: USER,
    REDIS_PASSWORD: password,
    REDIS_SENTINEL_PASSWORD: sentinelPassword,
    ...overrides,
  });

  beforeAll(async () => {
    group = await startSentinelGroup({ username: USER, password, sentinelPassword, tls: true });
  });
  afterAll(() => group?.stop());
  beforeEach(() => {
    logs = captureLogs();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    logs.restore();
  });

  test('ready, and register, login, refresh and logout work', async () => {
    app = await startApp(env());
    await mainFlows(app);
    expectNoSecret([password, sentinelPassword], logs.text(), []);
  });

  test('a wrong data-node password: 503 (never 500), no crash, nothing leaked', async () => {
    const wrong = secret('wrong-pw');
    app = await startApp(env({ REDIS_PASSWORD: wrong }));
    expectNoSecret([password, sentinelPassword, wrong], logs.text(), await failsClosed(app));
  });

  test('a wrong sentinel password: 503 (never 500), no crash, nothing leaked', async () => {
    const wrong = secret('wrong-pw');
    app = await startApp(env({ REDIS_SENTINEL_PASSWORD: wrong }));
    expectNoSecret([password, sentinelPassword, wrong], logs.text(), await failsClosed(app));
  });

  test('without the CA the sentinels are not trusted: 503', async () => {
    app = await startApp(env({ REDIS_TLS_CA_FILE: undefined }));
    expectNoSecret([password, sentinelPassword], logs.text(), await failsClosed(app));
  });
});
