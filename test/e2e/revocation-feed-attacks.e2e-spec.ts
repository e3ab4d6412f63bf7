import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { REDIS } from '../../src/redis/redis.module.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { retentionMs } from '../../src/revocations/revocation-event.js';
import { REVOCATION_LOG, RedisRevocationLog } from '../../src/revocations/revocation-log.js';
import { AdminUsersService } from '../../src/admin/admin-users.service.js';
import { UsersRepository } from '../../src/users/users.repository.js';
import { UsersService } from '../../src/users/users.service.js';
import { bearer, refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { FeedClient, SERVICE_AUTH } from '../support/feed-client.js';
import { createClient } from 'redis';
import { haveRedisServer, until } from '../support/redis-topologies.js';
import { OwnRedis } from '../support/services.js';

/**
 * Attacker review of GET /auth/revocations (server side). Tests assert the secure behaviour; the
 * ones that fail on the current code prove a hole (see the comment on each).
 */

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
}

const redisUrl = process.env.REDIS_URL;
const describeRedis = redisUrl ? describe : describe.skip;

describeRedis('revocation feed attacks (Redis)', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startApp({});
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  // Attack: repeat the query parameter (?lastEventId=a&lastEventId=b); the parser hands the
  // controller an array and `.trim()` throws. Impact: a 500 from unauthenticated-shaped input on an
  // authenticated route (noise in error monitoring, violates "no input may produce a 500").
  test('a repeated lastEventId query parameter is a 400, never a 500', async () => {
    const response = await fetch(`${url}/auth/revocations?lastEventId=1-0&lastEventId=2-0`, { headers: { Authorization: SERVICE_AUTH } });
    await response.body?.cancel();
    expect(response.status).toBe(400);
  });

  // Attack: bracket syntax / object-shaped query values. Same impact as above if they reach `.trim()`.
  test('odd query shapes are a 400 or a stream, never a 500', async () => {
    for (const query of ['?lastEventId[]=1-0', '?lastEventId[a]=1-0', '?lastEventId=', '?lastEventId=%00']) {
      const response = await fetch(`${url}/auth/revocations${query}`, { headers: { Authorization: SERVICE_AUTH } });
      await response.body?.cancel();
      expect([query, response.status < 500]).toEqual([query, true]);
    }
  });

  // Attack: odd positions (huge, negative, Redis specials, 10 000 digits). Impact if mishandled: a
  // 500, or a Redis special like `$`/`+` that silently skips everything kept.
  test('malformed positions are 400 validation_failed', async () => {
    for (const id of [
      '+',
      '-',
      '$',
      '>',
      '*',
      '-1-0',
      '1',
      '1-',
      '-0',
      '1-0-0',
      '9'.repeat(16) + '-0',
      '1-' + '9'.repeat(16),
      '9'.repeat(10_000),
    ]) {
      const response = await fetch(`${url}/auth/revocations`, { headers: { Authorization: SERVICE_AUTH, 'Last-Event-ID': id } });
      const body = await response.text();
      expect([id.slice(0, 20), response.status]).toEqual([id.slice(0, 20), 400]);
      expect(body).toContain('validation_failed');
    }
  });

  // Attack: a client (or a replayed Last-Event-ID) claims a position in the future or the largest
  // well-formed one. Impact if accepted: every later event is silently skipped (compared below it).
  test('a future or maximal position gets a reset, then everything kept and later events', async () => {
    for (const id of [`${Date.now() + 3_600_000}-0`, '999999999999999-999999999999999']) {
      const feed = await FeedClient.open(url, { lastEventId: id });
      try {
        expect(feed.status).toBe(200);
        await until('reset', () => feed.events.length > 0, 5000);
        expect(feed.events[0].event).toBe('reset');
        await until('caught up', () => feed.comments > 0, 5000);
        const user = await registerAndLogin(t);
        await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
        await until('the logout event', () => feed.about(user.userId).length === 1, 10_000);
      } finally {
        await feed.close();
      }
    }
  });

  // Attack: authenticate with anything but a service credential. Impact: anyone reads the feed
  // (every user id and session id that ends, in real time).
  test('no, wrong, malformed credentials and a user Bearer token are 401', async () => {
    const user = await registerAndLogin(t);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const authorization of [
      undefined,
      `Bearer ${user.accessToken}`,
      'Basic',
      'Basic ',
      'Basic !!!!',
      `Basic ${b64('example-downstream')}`,
      `Basic ${b64('example-downstream:')}`,
      `Basic ${b64(':development-only-downstream-secret')}`,
      `Basic ${b64('example-downstream:development-only-downstream-secreT')}`,
      `Basic ${b64('example-downstream:development-only-downstream-secret\u0000')}`,
      `basic ${b64('\u00ff\u00fe:\u00ff')}`,
      'Basic ' + 'A'.repeat(8000),
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { Authorization: authorization };
      const response = await fetch(`${url}/auth/revocations`, { headers });
      await response.body?.cancel();
      expect([authorization?.slice(0, 40), response.status]).toEqual([authorization?.slice(0, 40), 401]);
    }
  });

  // Attack: a shared cache or proxy stores the stream. Impact: the feed is served to others.
  test('the stream is not cacheable and carries the security headers', async () => {
    const feed = await FeedClient.open(url);
    try {
      expect(feed.status).toBe(200);
      expect(feed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(feed.headers.get('cache-control')).toMatch(/no-store/);
      expect(feed.headers.get('x-content-type-options')).toBe('nosniff');
      expect(feed.headers.get('content-security-policy')).toBeTruthy();
    } finally {
      await feed.close();
    }
  });
});

describeRedis('revocation feed attacks: until capped by the absolute session end', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    // Idle = absolute: every access token's exp is the session's absolute end.
    t = await startApp({ ACCESS_TOKEN_TTL: '900s', REFRESH_TOKEN_TTL: '120s', SESSION_MAX_LIFETIME: '120s' });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  // Attack: revoke a session whose tokens end at its absolute end, then use the token in the
  // seconds after `until`. docs/api.md: "after `until` the entry can be forgotten", and in the
  // uncapped case `until` includes the 5 s clock tolerance for exactly that reason; in the capped
  // case it does not (until = floor(absoluteEnd) = the token's exp). Impact: a verifier that
  // follows the docs forgets the revocation at `until` but still accepts the token (exp + leeway),
  // so a revoked token works again for up to the clock tolerance. (@tessera/verifier adds its own
  // tolerance, so it is safe; third-party verifiers are not.)
  test("a session event's until covers its tokens' exp plus the clock tolerance", async () => {
    const feed = await FeedClient.open(url);
    try {
      const user = await registerAndLogin(t);
      const exp = (JSON.parse(Buffer.from(user.accessToken.split('.')[1], 'base64url').toString()) as { exp: number }).exp;
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the logout event', () => feed.about(user.userId).length === 1, 10_000);
      const event = feed.about(user.userId)[0];
      expect(event.until as number).toBeGreaterThanOrEqual(exp + 5);
    } finally {
      await feed.close();
    }
  });
});

describeRedis('revocation feed attacks: clients that leave while the stream is being set up', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startApp({});
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Sends a complete, authenticated feed request and drops the connection at once. */
  const hitAndRun = (port: number) =>
    new Promise<void>((done) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`GET /auth/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: ${SERVICE_AUTH}\r\n\r\n`);
        socket.destroy();
        done();
      });
      socket.on('error', () => done());
    });

  // Attack: open the stream and disconnect before the handler's promise resolves (follow, then
  // has/readAll take Redis round trips). Nest then never subscribes to the returned Observable
  // ("setup may resolve after the client has disconnected"), so the teardown that unfollows never
  // runs: the listener stays in the log's one reader forever, and its `live` array keeps every
  // future revocation event. Impact: anyone holding a service credential (or a flaky proxy that
  // drops connections) grows Tessera's memory without bound and slows every fan-out; never freed.
  test('a client that disconnects during setup leaves no listener behind', async () => {
    const log = t.app.get<RedisRevocationLog>(REVOCATION_LOG, { strict: false });
    const listeners = (log as unknown as { listeners: Set<unknown> }).listeners;
    // The reader is up (one ordinary stream first), so only the setup round trips remain.
    const warm = await FeedClient.open(url);
    await until('caught up', () => warm.comments > 0, 5000);
    await warm.close();
    await until('the warm-up stream is gone', () => listeners.size === 0, 5000);

    // Redis answering the backlog read in 300 ms (a busy Redis, a long backlog) widens the window
    // the client needs to leave in; without it the race is still there, only narrower.
    const range = log.range.bind(log);
    log.range = async (afterId, count) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return range(afterId, count);
    };
    try {
      const port = Number(new URL(url).port);
      for (let i = 0; i < 20; i++) await hitAndRun(port);
      // Every handler has finished (300 ms each, concurrently) and every close was seen.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(listeners.size).toBe(0);
    } finally {
      log.range = range;
    }
  });
});

/**
 * An entry this version cannot read in the shared stream: what a newer Tessera writes during a
 * rolling deploy (a new event type) or an older one wrote in another shape. Every instance reads
 * the same `rv:{feed}`, so old instances meet new entries as a matter of course.
 */
const FOREIGN = JSON.stringify({ type: 'client', clientId: 'svc', notBefore: 1 });
const session = (i: number) =>
  JSON.stringify({ type: 'session', sid: `sid-${i}`, sub: 'sub-foreign', until: Math.floor(Date.now() / 1000) + 900 });

(redisUrl && haveRedisServer() ? describe : describe.skip)('revocation feed attacks: entries this version does not understand', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let url: string;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    // A Redis of this suite's own: it writes the feed stream directly.
    redis = await OwnRedis.start();
    raw = createClient({ url: redis.url });
    await raw.connect();
    t = await startApp({ REDIS_URL: redis.url });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
    await raw?.quit().catch(() => undefined);
    await redis?.close();
  });

  // Attack: one unreadable entry in the backlog, then more than a page (500) of real events. The
  // backlog reader pages by the *filtered* page length (`page.length < PAGE` → done), so a page
  // that lost one entry to the filter looks like the last page. Impact: a verifier connecting (or
  // resuming after a reset) silently misses every kept revocation after the first page, then is told
  // `: caught-up` and serves revoked tokens for up to their lifetime.
  test('the backlog is complete even when it holds an entry this version cannot read', async () => {
    await raw.xAdd('rv:{feed}', '*', { e: FOREIGN });
    for (let i = 0; i < 600; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => raw.xAdd('rv:{feed}', '*', { e: session(i + j) })));
    }
    const feed = await FeedClient.open(url);
    try {
      await until('caught up', () => feed.comments > 0, 10_000);
      expect(feed.about('sub-foreign').length).toBe(600);
    } finally {
      await feed.close();
    }
  });

  // Attack: a single unreadable entry at the tail. The reader's position stays before it, so XREAD
  // answers at once (no BLOCK) with the same entry, in a tight loop. Impact: a CPU-bound Tessera
  // and a Redis serving thousands of XREADs a second per instance, until a readable entry arrives.
  test('an unreadable entry at the tail does not make the reader spin', async () => {
    const feed = await FeedClient.open(url);
    try {
      await until('caught up', () => feed.comments > 0, 10_000);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the logout event', () => feed.about(user.userId).length === 1, 5000);
      await raw.xAdd('rv:{feed}', '*', { e: FOREIGN });
      const xreads = async () => Number(/cmdstat_xread:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
      const before = await xreads();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      // BLOCK 1000: about two reads in two seconds when idle.
      expect((await xreads()) - before).toBeLessThan(20);
    } finally {
      await feed.close();
    }
  });
  // Attack: BATCH (200) unreadable entries in a row at the tail. The live reader advances its
  // position only past entries it could parse, so it re-reads the same 200 forever. Impact: every
  // open stream keeps its heartbeats (looks alive) but no revocation ever reaches it again, on
  // every instance of the old version, while Redis is hammered by a non-blocking XREAD loop.
  test('live revocations still arrive after a run of unreadable entries', async () => {
    const feed = await FeedClient.open(url);
    try {
      await until('caught up', () => feed.comments > 0, 10_000);
      for (let i = 0; i < 200; i += 50) {
        await Promise.all(Array.from({ length: 50 }, () => raw.xAdd('rv:{feed}', '*', { e: FOREIGN })));
      }
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the logout event', () => feed.about(user.userId).length === 1, 5000);
    } finally {
      await feed.close();
    }
  });
});

describeRedis('revocation feed attacks: a user event undone by a stale cached record', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ REFRESH_REUSE_GRACE_SECONDS: '0' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const claimsOf = (token: string) =>
    JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { roles: string[]; iat: number };

  // Attack (cache-aside race): a refresh misses the user cache and reads the record from the
  // database just before an admin changes the roles; the change commits, drops the cached record
  // and publishes the `user` event; then the refresh's read completes and `findById` writes the
  // OLD record back into the cache (after the drop), for a minute. Impact: for that minute every
  // refresh mints tokens with the old roles and a fresh iat (≥ notBefore), which every verifier
  // accepts: the user event is void. (Tessera's own role checks read the database; downstream
  // services trust the token's roles.) The documented ~1 s window becomes a minute, on any instance.
  test('a refresh racing a role change cannot bring the old roles back for later refreshes', async () => {
    const user = await registerAndLogin(t);
    const repository = t.app.get(UsersRepository, { strict: false });
    const admin = t.app.get(AdminUsersService, { strict: false });
    const read = repository.findById.bind(repository);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    repository.findById = async (...args: Parameters<typeof read>) => {
      const found = await read(...args);
      if (!held && args[0] === user.userId) {
        held = true;
        await gate; // the database answered with the old record; the reply is on its way
      }
      return found;
    };
    let cookie = user.cookie;
    try {
      // Drop whatever login cached, so the refresh below reads the database.
      await t.app.get(UsersService, { strict: false }).forget(user.userId);
      const racing = t.http().post('/auth/refresh').set('Cookie', cookie);
      const racingDone = racing.then((r) => r);
      await until('the refresh read the old record', () => held, 5000);
      await admin.update(user.userId, { roles: ['user', 'auditor'] }, {});
      release();
      const raced = await racingDone;
      expect(raced.status).toBe(200);
      cookie = refreshCookieOf(raced.headers['set-cookie']);
    } finally {
      repository.findById = read;
      release();
    }
    // Past the documented one-second window: the next refresh must carry the new roles.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = await t.http().post('/auth/refresh').set('Cookie', cookie).expect(200);
    expect(claimsOf(later.body.accessToken as string).roles).toContain('auditor');
  });
});

describeRedis('revocation feed attacks: a relay that never runs', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startApp({});
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  // Attack: the instance dies (or Redis errors) between the session script and its relay. The
  // event sits in the outbox. Impact if nothing else moves it: a revocation never reaches the
  // verifiers. Passes: the sweeper delivers it (regression test).
  test('an event whose relay never ran still reaches the feed', async () => {
    const log = t.app.get<RedisRevocationLog>(REVOCATION_LOG, { strict: false });
    const relay = log.relay.bind(log);
    log.relay = async () => undefined;
    const feed = await FeedClient.open(url);
    try {
      await until('caught up', () => feed.comments > 0, 5000);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the swept event', () => feed.about(user.userId).length >= 1, 15_000);
    } finally {
      log.relay = relay;
      await feed.close();
    }
  });
});

describe('revocation feed attacks: the in-memory feed (no Redis)', () => {
  // Attack: resume the in-memory feed after a restart with a position from before it. Impact if
  // accepted: events of the new process compared against an unrelated position, silently skipped.
  test('a position from before a restart gets a reset, then live events', async () => {
    const first = await startApp({ REDIS_URL: undefined });
    let position: string;
    try {
      const url = await listen(first);
      const feed = await FeedClient.open(url);
      const user = await registerAndLogin(first);
      await first.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the logout event', () => feed.about(user.userId).length === 1, 5000);
      position = feed.lastId;
      expect(position).toMatch(/^\d+-\d+$/);
      await feed.close();
    } finally {
      await first.close();
    }
    const second = await startApp({ REDIS_URL: undefined });
    try {
      const url = await listen(second);
      const feed = await FeedClient.open(url, { lastEventId: position });
      try {
        await until('the reset', () => feed.events.length > 0, 5000);
        expect(feed.events[0].event).toBe('reset');
        const user = await registerAndLogin(second);
        await second.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
        await until('the logout event', () => feed.about(user.userId).length === 1, 5000);
      } finally {
        await feed.close();
      }
    } finally {
      await second.close();
    }
  });
});

(redisUrl && haveRedisServer() ? describe : describe.skip)('revocation feed attacks: one instance with a clock ahead', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let url: string;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    raw = createClient({ url: redis.url });
    await raw.connect();
    t = await startApp({ REDIS_URL: redis.url });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
    await raw?.quit().catch(() => undefined);
    await redis?.close();
  });

  // Attack/fault: every publish trims the shared stream with MINID = the publishing instance's
  // Date.now() - retention, while entry ids come from Redis's clock. One instance whose clock runs
  // ahead by more than the one-minute margin (or a Redis clock behind) trims entries whose tokens are
  // still alive, for every instance. Impact: a verifier that starts (or resets) then never learns
  // those revocations and accepts the revoked tokens until they expire. Fix: trim by Redis's TIME in
  // the script.
  test("an instance's clock running ahead does not trim events whose tokens are still alive", async () => {
    for (let i = 0; i < 300; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => raw.xAdd('rv:{feed}', '*', { e: session(i + j) })));
    }
    // Another instance (same Redis, same settings) whose clock is 20 minutes ahead publishes a role change.
    const skewed = new RedisRevocationLog(t.app.get<RedisService>(REDIS, { strict: false }), retentionMs(900, 5));
    const realNow = Date.now;
    Date.now = () => realNow() + 20 * 60_000;
    const published = skewed.publishUser('someone', 1); // the trim bound is computed synchronously
    Date.now = realNow;
    await published;
    await skewed.close();

    const feed = await FeedClient.open(url);
    try {
      await until('caught up', () => feed.comments > 0, 10_000);
      expect(feed.about('sub-foreign').length).toBe(300);
    } finally {
      await feed.close();
    }
  });
});

(redisUrl && haveRedisServer() ? describe : describe.skip)('revocation feed attacks: many streams', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let url: string;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    // A Redis of this suite's own: the backlog size is the test's, not whatever the shared one holds.
    redis = await OwnRedis.start();
    raw = createClient({ url: redis.url });
    await raw.connect();
    t = await startApp({ REDIS_URL: redis.url });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
    await raw?.quit().catch(() => undefined);
    await redis?.close();
  });

  // Attack: many streams from one client. Impact if each stream took its own Redis reader: Redis
  // connections exhausted. Passes (regression): no new Redis connection, and every stream gets live events.
  test('a hundred concurrent streams share one Redis reader and all get live events', async () => {
    const first = await FeedClient.open(url);
    await until('caught up', () => first.comments > 0, 5000);
    const connections = (await raw.clientList()).length;
    const feeds = [first, ...(await Promise.all(Array.from({ length: 99 }, () => FeedClient.open(url))))];
    try {
      expect(feeds.every((f) => f.status === 200)).toBe(true);
      // One reader per instance, whatever the number of streams.
      expect((await raw.clientList()).length).toBe(connections);
      const user = await registerAndLogin(t);
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('every stream sees the logout', () => feeds.every((f) => f.about(user.userId).length === 1), 15_000);
    } finally {
      await Promise.all(feeds.map((f) => f.close()));
    }
  });

  // Attack: with a service credential, open 100 streams without a position at once while the feed
  // keeps a realistic backlog (20 000 events: 16 minutes of a busy deployment). Each stream reads
  // the whole backlog into memory (readAll) and sends it in one go: 2 million events serialised on
  // the event loop, repeatable at will (no cap on streams per client or per instance). Impact: a
  // verifier that was already connected gets a live revocation many seconds late (the latency
  // contract says milliseconds), and Tessera's memory grows by backlog x streams.
  test('a burst of position-less streams does not hold up live revocations for connected verifiers', async () => {
    for (let i = 0; i < 20_000; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => raw.xAdd('rv:{feed}', '*', { e: session(i + j) })));
    }
    const verifier = await FeedClient.open(url, { lastEventId: '0-0' });
    await until('the verifier caught up', () => verifier.comments > 0, 30_000);
    // Logged in before the burst: the login (argon2, its own admission queue) is not what is measured.
    const user = await registerAndLogin(t);
    const burst = await Promise.all(Array.from({ length: 100 }, () => FeedClient.open(url)));
    try {
      await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
      await until('the connected verifier sees the logout', () => verifier.about(user.userId).length === 1, 3000);
    } finally {
      await Promise.all(burst.map((f) => f.close()));
      await verifier.close();
    }
  });
});
