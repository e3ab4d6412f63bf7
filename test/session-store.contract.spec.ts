import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { MemorySessionStore } from '../src/auth/sessions/memory-session.store.js';
import { RedisSessionStore, sessionKey } from '../src/auth/sessions/redis-session.store.js';
import type { NewSession, SessionStore } from '../src/auth/sessions/session-store.js';
import { RedisService, type RedisOptions } from '../src/redis/redis.service.js';
import type { RevocationEvent } from '../src/revocations/revocation-event.js';
import { MemoryRevocationLog, RedisRevocationLog, sessionUntil } from '../src/revocations/revocation-log.js';
import { haveRedisServer, startCluster, startSentinelGroup } from './support/redis-topologies.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StoreFixture {
  store: SessionStore;
  /** Makes a stored session look like one created before authTime/amr/acr were stored. */
  forgetAuthentication(userId: string, sessionId: string): Promise<void>;
  /** The revocation events published so far for this user (in feed order). */
  events(userId: string): Promise<RevocationEvent[]>;
  close(): Promise<void>;
}

const TTL = 900;
const untilCap = (now: number) => sessionUntil(now, Infinity, TTL, 5);

/** A Redis store with its revocation log; events are read back from the feed stream. */
function redisFixture(redis: RedisService) {
  const log = new RedisRevocationLog(redis, 60_000);
  return {
    store: new RedisSessionStore(redis, log, untilCap, 5),
    events: async (userId: string) => {
      const { entries } = await log.range('0-0', 100_000);
      return entries.map((entry) => entry.event).filter((event) => event.sub === userId);
    },
    closeLog: () => log.close(),
  };
}

const fixtures: [string, () => Promise<StoreFixture>][] = [
  [
    'memory',
    async () => {
      const log = new MemoryRevocationLog(60_000);
      const store = new MemorySessionStore(Date.now, (sub, ended) =>
        log.append(ended.map((e) => ({ type: 'session', sid: e.id, sub, until: sessionUntil(Date.now(), e.absoluteExpiresAt, TTL, 5) }))),
      );
      const events = async (userId: string) =>
        (await log.range('0-0', 100_000)).entries.map((e) => e.event).filter((e) => e.sub === userId);
      const forgetAuthentication = async (userId: string, sessionId: string) => {
        const users = (store as unknown as { users: Map<string, Map<string, Record<string, unknown>>> }).users;
        const session = users.get(userId)!.get(sessionId)!;
        delete session.authTime;
        delete session.amr;
        delete session.acr;
      };
      return { store, forgetAuthentication, events, close: async () => store.close() };
    },
  ],
];
// The Redis store runs whenever REDIS_URL is set; CI sets it and global-setup refuses CI without it.
if (process.env.REDIS_URL) {
  fixtures.push([
    'redis',
    async () => {
      const redis = new RedisService({ url: process.env.REDIS_URL!, commandTimeoutMs: 2000 });
      await redis.connect();
      if (!redis.isReady) throw new Error(`Redis at REDIS_URL is unreachable`);
      const forgetAuthentication = async (userId: string, sessionId: string) => {
        await redis.run((client) => client.hDel(sessionKey(userId, sessionId), 'p'));
      };
      const { store, events, closeLog } = redisFixture(redis);
      return {
        store,
        forgetAuthentication,
        events,
        close: async () => {
          await closeLog();
          await redis.close();
        },
      };
    },
  ]);
}

// On real local topologies too (started here from redis-server): every script on a 3-master
// cluster with replicas (one slot per user), and through Sentinel.
if (haveRedisServer()) {
  const onTopology = (start: () => Promise<{ options: Omit<RedisOptions, 'commandTimeoutMs'>; stop(): Promise<void> }>) => async () => {
    const topology = await start();
    const redis = new RedisService({ ...topology.options, commandTimeoutMs: 2000 });
    await redis.connect();
    if (!redis.isReady) throw new Error('the local Redis topology is not ready');
    const forgetAuthentication = async (userId: string, sessionId: string) => {
      await redis.run((client) => client.hDel(sessionKey(userId, sessionId), 'p'));
    };
    const { store, events, closeLog } = redisFixture(redis);
    return {
      store,
      forgetAuthentication,
      events,
      close: async () => {
        await closeLog();
        await redis.close();
        await topology.stop();
      },
    };
  };
  fixtures.push(
    [
      'redis cluster',
      onTopology(async () => {
        const cluster = await startCluster();
        return { options: { cluster: { nodes: cluster.nodes.split(',') }, waitReplicas: 1 }, stop: cluster.stop };
      }),
    ],
    [
      'redis sentinel',
      onTopology(async () => {
        const group = await startSentinelGroup();
        return {
          options: {
            sentinel: { sentinels: group.sentinels.map((port) => ({ host: '127.0.0.1', port })), master: group.name },
            waitReplicas: 1,
          },
          stop: group.stop,
        };
      }),
    ],
  );
}

describe.each(fixtures)('SessionStore contract: %s', (_name, makeFixture) => {
  let fixture: StoreFixture;
  let store: SessionStore;
  beforeAll(async () => {
    fixture = await makeFixture();
    store = fixture.store;
  });
  afterAll(async () => {
    await fixture.close();
  });

  let counter = 0;
  function newSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
    const now = Date.now();
    counter++;
    return {
      id: `sess${String(counter).padStart(18, '0')}`.slice(0, 22),
      userId,
      createdAt: now,
      lastUsedAt: now + counter, // distinct, increasing: a clear LRU order
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 120_000,
      userAgent: 'jest',
      ip: '127.0.0.1',
      refreshHash: `hash-${counter}`,
      authTime: now - 1_000,
      amr: ['pwd'],
      acr: 'urn:tessera:aal1',
      ...overrides,
    };
  }
  /** Presents the token of `generation` whose hash is `presentedHash` (stores only see genuine tokens). */
  const rotation = (s: NewSession, generation: number, presentedHash: string, nextHash: string, graceMs = 10_000) => ({
    userId: s.userId,
    sessionId: s.id,
    generation,
    presentedHash,
    nextHash,
    sealedSuccessor: `sealed:${nextHash}`,
    now: Date.now(),
    idleTtlMs: 60_000,
    graceMs,
  });

  test("every session that ends, whatever ends it, is one revocation event (until = its tokens' latest exp); expiry and failed attempts are none", async () => {
    const userId = randomUUID();
    const now = Date.now();
    const ended = async () => (await fixture.events(userId)).map((e) => (e.type === 'session' ? e.sid : 'user'));
    const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(() => newSession(userId));
    for (const s of [a, b]) await store.create(s, 10, now);
    // The cap evicts the least recently used: a.
    await store.create(c, 2, now);
    expect(await ended()).toEqual([a.id]);
    // Reuse of an older token ends c.
    await store.rotate(rotation(c, 0, c.refreshHash, 'c1', 0));
    await store.rotate(rotation(c, 0, c.refreshHash, 'c2', 0));
    expect(await ended()).toEqual([a.id, c.id]);
    // revoke, revokeWithRefresh; repeated or wrong ones end nothing more.
    await store.create(d, 10, now);
    await store.create(e, 10, now);
    expect(await store.revoke(userId, b.id)).toBe(true);
    expect(await store.revoke(userId, b.id)).toBe(false);
    expect(await store.revokeWithRefresh(userId, d.id, 0, 'wrong')).toBe(false);
    expect(await store.revokeWithRefresh(userId, d.id, 0, d.refreshHash)).toBe(true);
    expect(await ended()).toEqual([a.id, c.id, b.id, d.id]);
    // revokeAll ends the rest (e), one event each; a second revokeAll ends nothing.
    expect(await store.revokeAll(userId, Date.now())).toBe(1);
    expect(await store.revokeAll(userId, Date.now())).toBe(0);
    expect(await ended()).toEqual([a.id, c.id, b.id, d.id, e.id]);
    // until: the session's absolute end (120 s away) plus the tolerance caps now + TTL + tolerance.
    for (const event of await fixture.events(userId)) {
      expect(event).toMatchObject({ type: 'session', sub: userId, until: Math.floor(a.absoluteExpiresAt / 1000) + 5 });
    }
    // A session that simply expires ends without an event.
    const short = newSession(userId, { expiresAt: Date.now() + 300 });
    await store.create(short, 10, Date.now());
    await sleep(400);
    expect(await store.rotate(rotation(short, 0, short.refreshHash, 'x'))).toEqual({ status: 'invalid' });
    expect(await ended()).toHaveLength(5);
  });

  test('a created session is alive and listed with its metadata', async () => {
    const userId = randomUUID();
    const session = newSession(userId, { userAgent: 'Firefox', ip: '203.0.113.7' });
    await store.create(session, 10, Date.now());
    expect(await store.isAlive(userId, session.id)).toBe(true);
    const { refreshHash: _hash, ...info } = session;
    expect(await store.list(userId)).toEqual([info]);
    expect(await store.isAlive(randomUUID(), session.id)).toBe(false);
    expect(await store.isAlive(userId, 'nosuchsessionxxxxxxxxx')).toBe(false);
  });

  test('list is most recently used first', async () => {
    const userId = randomUUID();
    const a = newSession(userId);
    const b = newSession(userId);
    await store.create(a, 10, Date.now());
    await store.create(b, 10, Date.now());
    expect((await store.list(userId)).map((s) => s.id)).toEqual([b.id, a.id]);
  });

  test('the cap ends the least recently used sessions, atomically with the new one', async () => {
    const userId = randomUUID();
    const sessions = [newSession(userId), newSession(userId), newSession(userId)];
    for (const s of sessions) await store.create(s, 3, Date.now());
    const extra = newSession(userId);
    const { evicted } = await store.create(extra, 3, Date.now());
    expect(evicted).toEqual([sessions[0].id]);
    expect(await store.isAlive(userId, sessions[0].id)).toBe(false);
    expect((await store.list(userId)).map((s) => s.id).sort()).toEqual([sessions[1].id, sessions[2].id, extra.id].sort());
  });

  test('revoke ends one session; revokeAll ends the others, sparing the excepted one', async () => {
    const userId = randomUUID();
    const [a, b, c] = [newSession(userId), newSession(userId), newSession(userId)];
    for (const s of [a, b, c]) await store.create(s, 10, Date.now());
    expect(await store.revoke(userId, a.id)).toBe(true);
    expect(await store.revoke(userId, a.id)).toBe(false);
    expect(await store.isAlive(userId, a.id)).toBe(false);
    expect(await store.revokeAll(userId, Date.now(), c.id)).toBe(1);
    expect(await store.isAlive(userId, b.id)).toBe(false);
    expect(await store.isAlive(userId, c.id)).toBe(true);
    expect(await store.revokeAll(userId, Date.now())).toBe(1);
    expect(await store.list(userId)).toEqual([]);
  });

  test('after revokeAll, a login authenticated before it is refused; one authenticated after it is not', async () => {
    const userId = randomUUID();
    const checkedPassword = Date.now() - 1_000;
    await store.revokeAll(userId, Date.now());
    const raced = await store.create(newSession(userId), 10, checkedPassword);
    expect(raced).toEqual({ stale: true, evicted: [] });
    expect(await store.list(userId)).toEqual([]);
    const later = await store.create(newSession(userId), 10, Date.now() + 1);
    expect(later.stale).toBe(false);
    expect(await store.list(userId)).toHaveLength(1);
  });

  test('sessions expire at expiresAt and leave the list', async () => {
    const userId = randomUUID();
    const short = newSession(userId, { expiresAt: Date.now() + 300 });
    const long = newSession(userId);
    await store.create(short, 10, Date.now());
    await store.create(long, 10, Date.now());
    expect(await store.isAlive(userId, short.id)).toBe(true);
    await sleep(450);
    expect(await store.isAlive(userId, short.id)).toBe(false);
    expect((await store.list(userId)).map((s) => s.id)).toEqual([long.id]);
  });

  test('rotation is a compare-and-swap: the current token rotates, then its successor is current', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    expect((await store.rotate(rotation(s, 0, s.refreshHash, 'h1'))).status).toBe('rotated');
    expect((await store.rotate(rotation(s, 1, 'h1', 'h2'))).status).toBe('rotated');
    expect(await store.isAlive(userId, s.id)).toBe(true);
  });

  test('rotation slides the idle expiry but never past the absolute one', async () => {
    const userId = randomUUID();
    const now = Date.now();
    const s = newSession(userId, { expiresAt: now + 1_000, absoluteExpiresAt: now + 5_000 });
    await store.create(s, 10, Date.now());
    const result = await store.rotate({ ...rotation(s, 0, s.refreshHash, 'n1'), idleTtlMs: 60_000 });
    expect(result.status).toBe('rotated');
    if (result.status !== 'rotated') return;
    expect(result.session.expiresAt).toBe(s.absoluteExpiresAt);
    expect(result.session.absoluteExpiresAt).toBe(s.absoluteExpiresAt);
    expect(result.session.lastUsedAt).toBeGreaterThanOrEqual(now);
  });

  test('the previous token inside the grace window returns the same sealed successor and changes nothing', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    await store.rotate(rotation(s, 0, s.refreshHash, 'next'));
    const again = await store.rotate(rotation(s, 0, s.refreshHash, 'other'));
    expect(again).toMatchObject({ status: 'grace', sealedSuccessor: 'sealed:next' });
    // 'next' is still the current token: 'other' never became current.
    expect((await store.rotate(rotation(s, 1, 'other', 'x'))).status).toBe('invalid');
    expect((await store.rotate(rotation(s, 1, 'next', 'after'))).status).toBe('rotated');
  });

  test('the previous token after the grace window is reuse: the session ends', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    await store.rotate(rotation(s, 0, s.refreshHash, 'next', 200));
    await sleep(300);
    expect((await store.rotate(rotation(s, 0, s.refreshHash, 'late'))).status).toBe('reused');
    expect(await store.isAlive(userId, s.id)).toBe(false);
    expect((await store.rotate(rotation(s, 1, 'next', 'after'))).status).toBe('invalid');
  });

  test('an older token of the chain is reuse at any time, even inside the grace window', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    await store.rotate(rotation(s, 0, s.refreshHash, 'b'));
    await store.rotate(rotation(s, 1, 'b', 'c'));
    expect((await store.rotate(rotation(s, 0, s.refreshHash, 'z'))).status).toBe('reused');
    expect(await store.isAlive(userId, s.id)).toBe(false);
  });

  test('a current-generation token with the wrong secret, or a future generation, is invalid and ends nothing', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    expect((await store.rotate(rotation(s, 0, 'made-up', 'x'))).status).toBe('invalid');
    expect((await store.rotate(rotation(s, 5, s.refreshHash, 'x'))).status).toBe('invalid');
    expect(await store.isAlive(userId, s.id)).toBe(true);
  });

  test('concurrent rotations with one token: one rotates, the rest get the same successor', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.rotate(rotation(s, 0, s.refreshHash, `n${i}`))));
    const rotated = results.filter((r) => r.status === 'rotated');
    expect(rotated).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === 'rotated');
    for (const r of results) {
      if (r.status === 'grace') expect(r.sealedSuccessor).toBe(`sealed:n${winner}`);
      else expect(r.status).toBe('rotated');
    }
  });

  test('revokeWithRefresh ends the session for its current token or an older one, not for a wrong secret', async () => {
    const userId = randomUUID();
    const a = newSession(userId);
    const b = newSession(userId);
    await store.create(a, 10, Date.now());
    await store.create(b, 10, Date.now());
    expect(await store.revokeWithRefresh(userId, a.id, 0, 'wrong')).toBe(false);
    expect(await store.isAlive(userId, a.id)).toBe(true);
    expect(await store.revokeWithRefresh(userId, a.id, 0, a.refreshHash)).toBe(true);
    expect(await store.isAlive(userId, a.id)).toBe(false);
    // An older token of the chain (here inside the grace window) ends the session too.
    await store.rotate(rotation(b, 0, b.refreshHash, 'b1'));
    expect(await store.revokeWithRefresh(userId, b.id, 0, b.refreshHash)).toBe(true);
    expect(await store.isAlive(userId, b.id)).toBe(false);
  });

  test('rotation keeps how the user last authenticated; only updateAuthentication changes it', async () => {
    const userId = randomUUID();
    const s = newSession(userId, { authTime: Date.now() - 90_000, amr: ['pwd', 'otp', 'mfa'], acr: 'urn:tessera:aal2' });
    await store.create(s, 10, Date.now());
    const rotated = await store.rotate(rotation(s, 0, s.refreshHash, 'r1'));
    expect(rotated).toMatchObject({
      status: 'rotated',
      session: { authTime: s.authTime, amr: ['pwd', 'otp', 'mfa'], acr: 'urn:tessera:aal2' },
    });
    const grace = await store.rotate(rotation(s, 0, s.refreshHash, 'r2'));
    expect(grace).toMatchObject({
      status: 'grace',
      sealedSuccessor: 'sealed:r1',
      session: { authTime: s.authTime, acr: 'urn:tessera:aal2' },
    });

    const proof = { authTime: Date.now(), amr: ['pwd' as const], acr: 'urn:tessera:aal1' as const };
    expect(await store.updateAuthentication(userId, s.id, proof, Date.now())).toBeDefined();
    const [listed] = await store.list(userId);
    expect(listed).toMatchObject({ id: s.id, ...proof, createdAt: s.createdAt, absoluteExpiresAt: s.absoluteExpiresAt, userAgent: 'jest' });
    expect(await store.isAlive(userId, s.id)).toBe(true);
    // The refresh chain is untouched: the current token still rotates, and carries the new proof.
    const next = await store.rotate(rotation(s, 1, 'r1', 'r3'));
    expect(next).toMatchObject({ status: 'rotated', session: proof });
  });

  test('updateAuthentication changes one session only, and nothing for an ended, expired or unknown one', async () => {
    const userId = randomUUID();
    const [a, b] = [newSession(userId), newSession(userId)];
    const short = newSession(userId, { expiresAt: Date.now() + 200 });
    for (const s of [a, b, short]) await store.create(s, 10, Date.now());
    const proof = { authTime: Date.now(), amr: ['pwd' as const], acr: 'urn:tessera:aal1' as const };
    // It says when the session ends, so the new access token can be made not to outlive it.
    expect(await store.updateAuthentication(userId, a.id, proof, Date.now())).toEqual({
      expiresAt: a.expiresAt,
      absoluteExpiresAt: a.absoluteExpiresAt,
    });
    const byId = new Map((await store.list(userId)).map((s) => [s.id, s]));
    expect(byId.get(a.id)).toMatchObject(proof);
    expect(byId.get(b.id)).toMatchObject({ authTime: b.authTime, amr: b.amr, acr: b.acr });

    await store.revoke(userId, b.id);
    expect(await store.updateAuthentication(userId, b.id, proof, Date.now())).toBeUndefined();
    expect(await store.isAlive(userId, b.id)).toBe(false);
    await sleep(300);
    expect(await store.updateAuthentication(userId, short.id, proof, Date.now())).toBeUndefined();
    expect(await store.updateAuthentication(randomUUID(), a.id, proof, Date.now())).toBeUndefined();
    expect(await store.updateAuthentication(userId, 'nosuchsessionxxxxxxxxx', proof, Date.now())).toBeUndefined();
    expect((await store.list(userId)).map((s) => s.id)).toEqual([a.id]);
  });

  test('a session stored without authTime/amr/acr reads as a password login at its creation, and still rotates', async () => {
    const userId = randomUUID();
    const s = newSession(userId, { createdAt: Date.now() - 3_600_000 });
    await store.create(s, 10, Date.now());
    await fixture.forgetAuthentication(userId, s.id);
    const legacy = { authTime: s.createdAt, amr: ['pwd'], acr: 'urn:tessera:aal1' };
    expect(await store.list(userId)).toEqual([expect.objectContaining({ id: s.id, ...legacy })]);
    expect(await store.rotate(rotation(s, 0, s.refreshHash, 'l1'))).toMatchObject({ status: 'rotated', session: legacy });
    const proof = { authTime: Date.now(), amr: ['pwd' as const], acr: 'urn:tessera:aal1' as const };
    expect(await store.updateAuthentication(userId, s.id, proof, Date.now())).toBeDefined();
    expect(await store.list(userId)).toEqual([expect.objectContaining(proof)]);
  });
});

// Introspection (RFC 7662) of refresh tokens: a read that must never rotate or end anything.
describe.each(fixtures)('SessionStore contract, inspectRefresh: %s', (_name, makeFixture) => {
  let fixture: StoreFixture;
  let store: SessionStore;
  beforeAll(async () => {
    fixture = await makeFixture();
    store = fixture.store;
  });
  afterAll(async () => {
    await fixture.close();
  });

  const newSession = (userId: string, overrides: Partial<NewSession> = {}): NewSession => {
    const now = Date.now();
    return {
      id: randomUUID().replace(/-/g, '').slice(0, 16),
      userId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 120_000,
      userAgent: 'jest',
      ip: '127.0.0.1',
      refreshHash: 'hash-0',
      authTime: now - 1_000,
      amr: ['pwd'],
      acr: 'urn:tessera:aal1',
      ...overrides,
    };
  };
  const rotation = (s: NewSession, generation: number, presentedHash: string, nextHash: string) => ({
    userId: s.userId,
    sessionId: s.id,
    generation,
    presentedHash,
    nextHash,
    sealedSuccessor: `sealed:${nextHash}`,
    now: Date.now(),
    idleTtlMs: 60_000,
    graceMs: 0,
  });

  test('answers the session for its current token only, and changes nothing', async () => {
    const userId = randomUUID();
    const s = newSession(userId);
    await store.create(s, 10, Date.now());
    expect(await store.inspectRefresh(userId, s.id, 0, 'hash-0', Date.now())).toMatchObject({
      id: s.id,
      userId,
      expiresAt: s.expiresAt,
      absoluteExpiresAt: s.absoluteExpiresAt,
      authTime: s.authTime,
      amr: ['pwd'],
      acr: 'urn:tessera:aal1',
    });
    expect(await store.inspectRefresh(userId, s.id, 0, 'wrong', Date.now())).toBeUndefined();
    expect(await store.inspectRefresh(userId, s.id, 1, 'hash-0', Date.now())).toBeUndefined();
    expect(await store.inspectRefresh(randomUUID(), s.id, 0, 'hash-0', Date.now())).toBeUndefined();
    // Inspecting twice consumed nothing: the same token still rotates.
    expect(await store.rotate(rotation(s, 0, 'hash-0', 'hash-1'))).toMatchObject({ status: 'rotated' });
    // The old token is no longer current; inspecting it is not reuse: the session stays alive.
    expect(await store.inspectRefresh(userId, s.id, 0, 'hash-0', Date.now())).toBeUndefined();
    expect(await store.isAlive(userId, s.id)).toBe(true);
    expect(await store.inspectRefresh(userId, s.id, 1, 'hash-1', Date.now())).toMatchObject({ id: s.id });
    expect(await store.rotate(rotation(s, 1, 'hash-1', 'hash-2'))).toMatchObject({ status: 'rotated' });
  });

  test('an ended or expired session has no current token', async () => {
    const userId = randomUUID();
    const ended = newSession(userId);
    const expired = newSession(userId, { expiresAt: Date.now() + 200 });
    for (const s of [ended, expired]) await store.create(s, 10, Date.now());
    await store.revoke(userId, ended.id);
    expect(await store.inspectRefresh(userId, ended.id, 0, 'hash-0', Date.now())).toBeUndefined();
    // Past the idle expiry (`now` is the caller's clock), even before the key itself is reclaimed.
    expect(await store.inspectRefresh(userId, expired.id, 0, 'hash-0', Date.now() + 1_000)).toBeUndefined();
  });
});
