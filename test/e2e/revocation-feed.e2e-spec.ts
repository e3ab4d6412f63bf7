import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'drizzle-orm';
import { createClient } from 'redis';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { DATABASE, type Database } from '../../src/database/database.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { clusterOutboxFor } from '../../src/revocations/revocation-log.js';
import { FeedClient } from '../support/feed-client.js';
import { TestMailbox } from '../support/mailbox.js';
import { stepUpToAal2 } from '../support/mfa.js';
import { haveRedisServer, startCluster, startSentinelGroup, until } from '../support/redis-topologies.js';
import { OwnRedis, sleep } from '../support/services.js';

const ACCESS_TTL = 900;
const NEW_PASSWORD = 'another correct horse battery';

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
}

/** The sids of the session events about `sub`, once at least `count` arrived. */
async function sessionsEnded(feed: FeedClient, sub: string, count: number): Promise<string[]> {
  await until(`${count} revocation(s) for ${sub}`, () => feed.about(sub).length >= count, 10_000);
  return feed.about(sub).map((e) => e.sid as string);
}

const redisUrl = process.env.REDIS_URL;
const describeRedis = redisUrl ? describe : describe.skip;

describeRedis('the revocation feed (Redis)', () => {
  const mailbox = new TestMailbox();
  const adminEmail = uniqueEmail('admin');
  let t: TestApp;
  let url: string;
  let feed: FeedClient;
  let admin: string;

  beforeAll(async () => {
    await mailbox.start();
    t = await startApp({
      ACCESS_TOKEN_TTL: `${ACCESS_TTL}s`,
      SMTP_URL: mailbox.url,
      MAIL_POLL_INTERVAL: '1s',
      MAX_SESSIONS_PER_USER: '2',
      REFRESH_REUSE_GRACE_SECONDS: '0',
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    });
    url = await listen(t);
    feed = await FeedClient.open(url);
    const token = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body
      .accessToken as string;
    admin = await stepUpToAal2(t, t.app.get(MfaClock), token, Math.floor(Date.now() / 30_000) + 1000);
  });
  afterAll(async () => {
    await feed?.close();
    await t?.close();
    await mailbox.stop();
  });

  const login = async (email: string, password = PASSWORD) => {
    const response = await t.http().post('/auth/login').send({ email, password }).expect(200);
    return {
      accessToken: response.body.accessToken as string,
      sessionId: response.body.sessionId as string,
      cookie: refreshCookieOf(response.headers['set-cookie']),
    };
  };

  /** Each business path that ends sessions, and the sessions it must report ended. */
  const paths: [string, () => Promise<{ sub: string; ended: string[] }>][] = [
    [
      'logout with the access token',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'logout with the refresh token',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().post('/auth/logout').set('Cookie', user.cookie).expect(204);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'logout from all devices',
      async () => {
        const user = await registerAndLogin(t);
        const other = await login(user.email);
        await t.http().post('/auth/logout-all-devices').set(bearer(user.accessToken)).expect(204);
        return { sub: user.userId, ended: [user.sessionId, other.sessionId] };
      },
    ],
    [
      'password change (the other sessions)',
      async () => {
        const user = await registerAndLogin(t);
        const other = await login(user.email);
        await t
          .http()
          .post('/auth/password')
          .set(bearer(user.accessToken))
          .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
          .expect(204);
        return { sub: user.userId, ended: [other.sessionId] };
      },
    ],
    [
      'password reset',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(202);
        const mail = await mailbox.waitFor(user.email, /reset/i);
        const token = mail.token;
        await t.http().post('/auth/password/reset').send({ token, newPassword: NEW_PASSWORD }).expect(204);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'ending one of your sessions',
      async () => {
        const user = await registerAndLogin(t);
        const other = await login(user.email);
        await t.http().delete(`/auth/sessions/${other.sessionId}`).set(bearer(user.accessToken)).expect(204);
        return { sub: user.userId, ended: [other.sessionId] };
      },
    ],
    [
      'admin: disable',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().patch(`/admin/users/${user.userId}`).set(bearer(admin)).send({ disabled: true }).expect(200);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'admin: force logout',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().delete(`/admin/users/${user.userId}/sessions`).set(bearer(admin)).expect(204);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'admin: second factors removed',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(admin)).expect(204);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'refresh token reuse (theft)',
      async () => {
        const user = await registerAndLogin(t);
        await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
        await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(401);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'refresh by a user disabled behind its back',
      async () => {
        const user = await registerAndLogin(t);
        // Disabled in the database only (no admin path, so no revokeAll): the refresh finds out.
        await t.app.get<Database>(DATABASE).execute(sql`UPDATE users SET disabled = true WHERE id = ${user.userId}`);
        const cache = createClient({ url: redisUrl });
        await cache.connect();
        for (const key of await cache.keys(`*user:${user.userId}*`)) await cache.del(key);
        await cache.close();
        await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(401);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      '/oauth/revoke with a refresh token',
      async () => {
        const user = await registerAndLogin(t);
        const refreshToken = (
          await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD, client: 'native' }).expect(200)
        ).body;
        await t
          .http()
          .post('/oauth/revoke')
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .send(new URLSearchParams({ token: refreshToken.refreshToken }).toString())
          .expect(200);
        return { sub: user.userId, ended: [refreshToken.sessionId] };
      },
    ],
    [
      '/oauth/revoke with an access token',
      async () => {
        const user = await registerAndLogin(t);
        await t
          .http()
          .post('/oauth/revoke')
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .send(new URLSearchParams({ token: user.accessToken }).toString())
          .expect(200);
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
    [
      'the session cap evicts the least recently used',
      async () => {
        const user = await registerAndLogin(t);
        await login(user.email);
        await login(user.email); // MAX_SESSIONS_PER_USER=2: the first one goes
        return { sub: user.userId, ended: [user.sessionId] };
      },
    ],
  ];

  test.each(paths)('%s: each ended session is one event on the feed, with until = its tokens’ latest exp', async (_name, act) => {
    const before = Math.floor(Date.now() / 1000);
    const { sub, ended } = await act();
    const sids = await sessionsEnded(feed, sub, ended.length);
    expect(sids.sort()).toEqual([...ended].sort());
    for (const event of feed.about(sub)) {
      expect(event).toEqual({ type: 'session', sid: expect.any(String), sub, until: expect.any(Number) });
      // now + ACCESS_TOKEN_TTL + 5 s tolerance (the session's absolute end is 30 days away).
      expect(event.until as number).toBeGreaterThanOrEqual(before + ACCESS_TTL);
      expect(event.until as number).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + ACCESS_TTL + 5);
    }
    // No second copy arrives later.
    await sleep(300);
    expect(feed.about(sub)).toHaveLength(ended.length);
  });

  test('roles change: a user event whose notBefore is after every token minted with the old roles', async () => {
    const user = await registerAndLogin(t);
    const before = Math.floor(Date.now() / 1000);
    await t
      .http()
      .patch(`/admin/users/${user.userId}`)
      .set(bearer(admin))
      .send({ roles: ['user', 'auditor'] })
      .expect(200);
    const after = Math.floor(Date.now() / 1000);
    await until('user event', () => feed.about(user.userId).length === 1, 10_000);
    const [event] = feed.about(user.userId);
    expect(event).toEqual({ type: 'user', sub: user.userId, notBefore: expect.any(Number) });
    const oldIat = JSON.parse(Buffer.from(user.accessToken.split('.')[1], 'base64url').toString()).iat as number;
    expect(oldIat).toBeLessThan(event.notBefore as number);
    // The second after the change.
    expect(event.notBefore as number).toBeGreaterThanOrEqual(before + 1);
    expect(event.notBefore as number).toBeLessThanOrEqual(after + 1);
    // A roles-free change (disable off) is no user event.
    await t.http().patch(`/admin/users/${user.userId}`).set(bearer(admin)).send({ disabled: false }).expect(200);
    await sleep(300);
    expect(feed.about(user.userId)).toHaveLength(1);
  });

  test('headers: text/event-stream, no-store, the security headers; heartbeat comments at least every 2 s', async () => {
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toContain('text/event-stream');
    expect(feed.headers.get('cache-control')).toContain('no-store');
    expect(feed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(feed.headers.get('content-security-policy')).toBeTruthy();
    expect(feed.headers.get('x-frame-options')).toBeTruthy();
    const seen = feed.comments;
    await sleep(2100);
    expect(feed.comments).toBeGreaterThanOrEqual(seen + 1);
  });

  test('401 invalid_client without a credential, with a wrong secret, with a bearer token', async () => {
    const user = await registerAndLogin(t);
    const wrong = `Basic ${Buffer.from('example-downstream:wrong-secret').toString('base64')}`;
    for (const authorization of [null, wrong, `Bearer ${user.accessToken}`]) {
      const client = await FeedClient.open(url, { authorization });
      expect(client.status).toBe(401);
      expect(JSON.parse(client.body).code).toBe('invalid_client');
    }
  });

  test('resume with Last-Event-ID: exactly what came after it, header or query parameter', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await sessionsEnded(feed, user.userId, 1);
    const position = feed.events.find((e) => e.data.sub === user.userId)!.id;
    const later = await registerAndLogin(t);
    await t.http().post('/auth/logout').set(bearer(later.accessToken)).expect(204);
    await sessionsEnded(feed, later.userId, 1);
    for (const options of [{ lastEventId: position }, { query: `?lastEventId=${position}` }]) {
      const resumed = await FeedClient.open(url, options);
      await until('resumed', () => resumed.about(later.userId).length === 1);
      const expected = feed.events.filter((e) => e.event === 'revocation' && e.id > position).map((e) => e.id);
      // The same entries in the same order (nothing before the position, no gap).
      expect(resumed.events.map((e) => e.id).slice(0, expected.length)).toEqual(expected);
      expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);
      await resumed.close();
    }
  });

  test('a position not kept (trimmed, unknown) is answered with a reset, then everything kept; a malformed one is 400', async () => {
    const gone = await FeedClient.open(url, { lastEventId: '1-0' });
    await until('reset and backlog', () => gone.events.length > 1);
    expect(gone.events[0]).toMatchObject({ event: 'reset', id: '0-0' });
    // Everything kept: the same entries as a fresh client gets.
    const fresh = await FeedClient.open(url);
    await until('backlog', () => fresh.events.length >= gone.events.length - 1);
    expect(gone.events.slice(1, 20).map((e) => e.id)).toEqual(fresh.events.slice(0, 19).map((e) => e.id));
    await gone.close();
    await fresh.close();
    for (const lastEventId of ['abc', '12', '1-2-3', '-1-0']) {
      const malformed = await FeedClient.open(url, { lastEventId });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  test('an outbox entry left behind by a crashed relay is delivered by the sweeper', async () => {
    const sub = '00000000-0000-4000-8000-000000000001';
    const sid = `orphan${Date.now()}`;
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    // What a session script writes, whose instance died before relaying it.
    await redis.rPush('rv:{feed}:o', JSON.stringify({ type: 'session', sid, sub, until: 1, at: Date.now() - 10_000, op: 'crashed' }));
    await redis.close();
    await until('orphan delivered', () => feed.events.some((e) => e.data.sid === sid), 10_000);
  });
});

describeRedis('the revocation feed across instances and at shutdown', () => {
  test('two instances share one ordered feed; a revocation on one reaches streams on both', async () => {
    // Instances share the signing key and the server secrets, as production must.
    const keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const shared = { JWT_PRIVATE_KEY_FILE: keyFile, SERVER_SECRETS: randomBytes(32).toString('hex') };
    const a = await startApp(shared);
    const b = await startApp(shared);
    try {
      const [urlA, urlB] = [await listen(a), await listen(b)];
      const [onA, onB] = [await FeedClient.open(urlA), await FeedClient.open(urlB)];
      const users = [await registerAndLogin(a), await registerAndLogin(b), await registerAndLogin(a)];
      await t0(users[0], b);
      await t0(users[1], a);
      await t0(users[2], b);
      for (const user of users) {
        await sessionsEnded(onA, user.userId, 1);
        await sessionsEnded(onB, user.userId, 1);
      }
      const order = (feed: FeedClient) =>
        feed.events.filter((e) => users.some((u) => u.userId === e.data.sub)).map((e) => `${e.id} ${String(e.data.sub)}`);
      expect(order(onA)).toEqual(order(onB));
      await onA.close();
      await onB.close();
    } finally {
      await a.close();
      await b.close();
      rmSync(keyDir, { recursive: true, force: true });
    }

    async function t0(user: { accessToken: string }, on: TestApp) {
      await on.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    }
  });

  test('shutdown ends open streams at once (the server does not wait for them)', async () => {
    const t = await startApp();
    const url = await listen(t);
    const streams = [await FeedClient.open(url), await FeedClient.open(url)];
    await until('streams open', () => streams.every((s) => s.comments > 0 || s.events.length > 0));
    const started = Date.now();
    await t.close();
    expect(Date.now() - started).toBeLessThan(3000);
    await until('streams ended', () => streams.every((s) => s.ended), 3000);
  });
});

describe('the revocation feed when Redis goes away', () => {
  const run = haveRedisServer() ? test : test.skip;
  run('open streams end, new ones get 503; after recovery the feed resumes with nothing lost', async () => {
    const redis = await OwnRedis.start();
    const t = await startApp({ REDIS_URL: redis.url });
    try {
      const url = await listen(t);
      const feed = await FeedClient.open(url);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await sessionsEnded(feed, user.userId, 1);
      await redis.stop();
      await until('stream ended', () => feed.ended, 10_000);
      await until('503', async () => (await FeedClient.open(url)).status === 503, 10_000);
      await redis.restart();
      await until('200 again', async () => {
        const again = await FeedClient.open(url);
        await again.close();
        return again.status === 200;
      });
    } finally {
      await t.close();
      await redis.close();
    }
  });
});

describe('the revocation feed without Redis (one instance, in memory)', () => {
  test('same format and resume; after a restart a position is unknown: reset', async () => {
    const t = await startApp({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined, REDIS_SENTINELS: undefined });
    let position: string;
    try {
      const url = await listen(t);
      const feed = await FeedClient.open(url);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      expect(await sessionsEnded(feed, user.userId, 1)).toEqual([user.sessionId]);
      position = feed.lastId;
      expect(position).toMatch(/^\d+-\d+$/);
      const resumed = await FeedClient.open(url, { lastEventId: position });
      const other = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(other.accessToken)).expect(204);
      await sessionsEnded(resumed, other.userId, 1);
      expect(resumed.events.map((e) => e.event)).toEqual(['revocation']);
      await feed.close();
      await resumed.close();
    } finally {
      await t.close();
    }
    const restarted = await startApp({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined, REDIS_SENTINELS: undefined });
    try {
      const again = await FeedClient.open(await listen(restarted), { lastEventId: position });
      await until('reset', () => again.events.length > 0);
      expect(again.events[0]).toMatchObject({ event: 'reset' });
      await again.close();
    } finally {
      await restarted.close();
    }
  });
});

describe('the revocation feed on a Redis Cluster (user and feed on different masters)', () => {
  const run = haveRedisServer() ? test : test.skip;
  run('events reach the feed through the slot outbox; the sweeper finds orphans in any slot', async () => {
    const cluster = await startCluster();
    const t = await startApp({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes });
    try {
      const url = await listen(t);
      const feed = await FeedClient.open(url);
      const feedMaster = await cluster.masterOf('rv:{feed}');
      let user = await registerAndLogin(t);
      // A user whose keys live on another master than the feed's stream.
      const compact = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
      while ((await cluster.masterOf(`s:{${compact(user.userId)}}`)) === feedMaster) user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      expect(await sessionsEnded(feed, user.userId, 1)).toEqual([user.sessionId]);

      // An orphan in the outbox of the user's slot (on the user's master): swept to the feed.
      const userMaster = await cluster.masterOf(`s:{${compact(user.userId)}}`);
      const outbox = clusterOutboxFor(`s:{${compact(user.userId)}}`);
      expect(await cluster.masterOf(outbox)).toBe(userMaster);
      const node = createClient({ url: `redis://127.0.0.1:${userMaster}` });
      await node.connect();
      const sid = `orphan${Date.now()}`;
      await node.rPush(
        outbox,
        JSON.stringify({ type: 'session', sid, sub: user.userId, until: 1, at: Date.now() - 10_000, op: 'crashed' }),
      );
      await node.close();
      await until('orphan delivered', () => feed.events.some((e) => e.data.sid === sid), 15_000);
      await feed.close();
    } finally {
      await t.close();
      await cluster.stop();
    }
  });
});

describe('the revocation feed through Sentinel', () => {
  const run = haveRedisServer() ? test : test.skip;
  run('the dedicated reader follows the primary found through Sentinel; events arrive', async () => {
    const group = await startSentinelGroup();
    const t = await startApp({ REDIS_URL: undefined, REDIS_SENTINELS: group.addresses, REDIS_SENTINEL_MASTER: group.name });
    try {
      const url = await listen(t);
      let feed = await FeedClient.open(url);
      // Right after start-up the heartbeat may not have heard the primary yet (503, the client retries).
      await until('feed open', async () => (feed.status === 200 ? true : ((feed = await FeedClient.open(url)), false)), 10_000);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      expect(await sessionsEnded(feed, user.userId, 1)).toEqual([user.sessionId]);
      await feed.close();
    } finally {
      await t.close();
      await group.stop();
    }
  });
});

describeRedis('role changes and token minting', () => {
  // The minting side: iat = max(now, floor(user.updatedAt) + 1) (docs/api.md, "Role changes").
  test('a token minted right after a role change carries the new roles and is not refused by the user event', async () => {
    const adminEmail = uniqueEmail('admin');
    const t = await startApp({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });
    try {
      const feed = await FeedClient.open(await listen(t));
      const admin = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body
        .accessToken as string;
      for (let i = 0; i < 5; i++) {
        const user = await registerAndLogin(t);
        await t
          .http()
          .patch(`/admin/users/${user.userId}`)
          .set(bearer(admin))
          .send({ roles: ['user', 'auditor'] })
          .expect(200);
        const refreshed = await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
        const claims = JSON.parse(Buffer.from((refreshed.body.accessToken as string).split('.')[1], 'base64url').toString()) as {
          iat: number;
          roles: string[];
        };
        await until('user event', () => feed.about(user.userId).length === 1);
        expect(claims.roles).toContain('auditor');
        expect(claims.iat).toBeGreaterThanOrEqual(feed.about(user.userId)[0].notBefore as number);
      }
      await feed.close();
    } finally {
      await t.close();
    }
  });
});
