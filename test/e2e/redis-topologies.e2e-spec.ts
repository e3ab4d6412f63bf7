import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexKey } from '../../src/auth/sessions/redis-session.store.js';
import { DependencyUnavailableError } from '../../src/common/problems/dependency-error.js';
import { RedisService } from '../../src/redis/redis.service.js';
import { RedisTicketStore } from '../../src/tickets/ticket-store.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import {
  cli,
  freePorts,
  haveRedisServer,
  type LocalCluster,
  type LocalSentinelGroup,
  startCluster,
  startSentinelGroup,
  until,
} from '../support/redis-topologies.js';

/**
 * Tessera on real local Redis topologies (started here from redis-server): a 3-master cluster with
 * one replica each, and a Sentinel group. Two app instances on each run the main flows, then a
 * primary is killed (SIGKILL): requests answer 503, never 500, until the replica is promoted, and
 * recover by themselves; a session written before the kill (REDIS_WAIT_REPLICAS=1) keeps working.
 */
// In CI redis-server must be there (the suite fails rather than skips); elsewhere it is optional.
const describeTopologies = haveRedisServer() || process.env.CI ? describe : describe.skip;

/** CRC16 (XMODEM) of the hash tag or key, as Redis Cluster computes slots. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  let hashed = key;
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The quoted arguments of one MONITOR line: `1700000000.1 [0 lua] "HSET" "k" "f" "v"`. */
function monitorArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
}

/** Commands whose every argument is a key; for the others the first argument is. */
const ALL_KEYS = new Set(['DEL', 'UNLINK', 'EXISTS', 'TOUCH', 'MGET']);

/**
 * Every key a script touches must be in the slot of the key it declares. Redis 7.0 lets a script
 * touch an undeclared key of another slot if the same node owns it, so running the scripts on a
 * cluster is not enough: MONITOR on every master shows each key touched from Lua.
 */
function auditSlots(lines: string[]): { scripts: number; keys: number; problems: string[] } {
  const problems: string[] = [];
  let scripts = 0;
  let keys = 0;
  let declared: number | undefined;
  let group: string[] = [];
  const flush = (next: number | undefined) => {
    if (group.length) {
      const slots = new Set(group.map(slotOf));
      if (slots.size > 1 || (declared !== slotOf(group[0]) && next !== slotOf(group[0]))) {
        problems.push(`a script touched ${group.join(', ')} (declared slot ${declared ?? next})`);
      }
      scripts++;
      keys += group.length;
    }
    group = [];
  };
  for (const line of lines) {
    const args = monitorArgs(line);
    if (args.length === 0) continue;
    const command = args[0].toUpperCase();
    if (line.includes(' lua] ')) {
      if (args.length > 1) group.push(...(ALL_KEYS.has(command) ? args.slice(1) : [args[1]]));
      continue;
    }
    const next = (command === 'EVALSHA' || command === 'EVAL') && Number(args[2]) > 0 ? slotOf(args[3]) : undefined;
    flush(next);
    if (next !== undefined) declared = next;
  }
  flush(undefined);
  return { scripts, keys, problems };
}

type Topology = {
  env: Record<string, string | undefined>;
  /** The port of the primary that owns `key`. */
  primaryOf(key: string): Promise<number>;
  kill(port: number): void;
  /** The primaries, for MONITOR. */
  primaries(): Promise<number[]>;
  stop(): Promise<void>;
};

const topologies: [string, () => Promise<Topology>][] = [
  [
    'cluster',
    async () => {
      const cluster: LocalCluster = await startCluster();
      return {
        env: { REDIS_CLUSTER_NODES: cluster.nodes },
        primaryOf: (key) => cluster.masterOf(key),
        kill: (port) => cluster.kill(port),
        primaries: () => cluster.masters(),
        stop: () => cluster.stop(),
      };
    },
  ],
  [
    'sentinel',
    async () => {
      const group: LocalSentinelGroup = await startSentinelGroup();
      return {
        env: { REDIS_SENTINELS: group.addresses, REDIS_SENTINEL_MASTER: group.name },
        primaryOf: () => group.currentPrimary(),
        kill: (port) => group.kill(port),
        primaries: async () => [await group.currentPrimary()],
        stop: () => group.stop(),
      };
    },
  ],
];

describeTopologies.each(topologies)('Tessera on a real Redis %s', (name, start) => {
  let topology: Topology;
  let a: TestApp;
  let b: TestApp;
  let keyDir: string;

  beforeAll(async () => {
    topology = await start();
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const env = {
      REDIS_URL: undefined,
      ...topology.env,
      REDIS_WAIT_REPLICAS: '1',
      JWT_PRIVATE_KEY_FILE: keyFile,
      SERVER_SECRETS: randomBytes(32).toString('hex'),
    };
    a = await startApp(env);
    b = await startApp(env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await topology?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('ready, and the main flows across two instances (register, login, refresh, logout, logout-all)', async () => {
    await a.http().get('/health/ready').expect(200);
    await b.http().get('/health/ready').expect(200);
    const user = await registerAndLogin(a);
    await b.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    const refreshed = await b.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
    await a.http().get('/users/me').set(bearer(refreshed.body.accessToken)).expect(200);
    // A revocation on one instance is seen by the other at once (client-side cache invalidated by the owning node).
    await a.http().post('/auth/logout').set(bearer(refreshed.body.accessToken)).expect(204);
    expect((await b.http().get('/users/me').set(bearer(refreshed.body.accessToken)).expect(401)).body.code).toBe('session_revoked');

    const other = await registerAndLogin(a);
    const second = await a.http().post('/auth/login').send({ email: other.email, password: PASSWORD }).expect(200);
    await b.http().get('/users/me').set(bearer(other.accessToken)).expect(200); // cached on B
    await b.http().post('/auth/logout-all-devices').set(bearer(second.body.accessToken)).expect(204);
    await a.http().get('/users/me').set(bearer(other.accessToken)).expect(401);
    await b.http().get('/users/me').set(bearer(other.accessToken)).expect(401);
  });

  test('the per-request session check is answered from memory (client-side cache), and a revocation still lands at once', async () => {
    const user = await registerAndLogin(a);
    const hgetCalls = async () => {
      let total = 0;
      for (const port of await topology.primaries()) {
        const match = /cmdstat_hget:calls=(\d+)/.exec(await cli(port, 'info', 'commandstats'));
        total += match ? Number(match[1]) : 0;
      }
      return total;
    };
    await b.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    const before = await hgetCalls();
    for (let i = 0; i < 20; i++) await b.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    expect((await hgetCalls()) - before).toBe(0);
    await a.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await b.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
  });

  test('refresh races over both instances: one successor; a replayed grandparent ends the session everywhere', async () => {
    const user = await registerAndLogin(a);
    const raced = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).http().post('/auth/refresh').set('Cookie', user.cookie)),
    );
    expect(raced.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(raced.map((r) => refreshCookieOf(r.headers['set-cookie']))).size).toBe(1);
    const next = await a.http().post('/auth/refresh').set('Cookie', refreshCookieOf(raced[0].headers['set-cookie'])).expect(200);
    expect((await b.http().post('/auth/refresh').set('Cookie', user.cookie).expect(401)).body.code).toBe('refresh_reused');
    await a.http().get('/users/me').set(bearer(next.body.accessToken)).expect(401);
    await b.http().get('/users/me').set(bearer(next.body.accessToken)).expect(401);
  });

  if (name === 'cluster') {
    test('every key a script touches is in the slot of its declared key (MONITOR on every master)', async () => {
      const monitors: { child: ChildProcess; lines: string[] }[] = (await topology.primaries()).map((port) => {
        const child = spawn('redis-cli', ['-p', String(port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
        const lines: string[] = [];
        let rest = '';
        child.stdout.on('data', (chunk: Buffer) => {
          const text = rest + chunk.toString();
          const parts = text.split('\n');
          rest = parts.pop()!;
          lines.push(...parts);
        });
        return { child, lines };
      });
      try {
        await until('MONITOR attached', () => monitors.every((m) => m.lines.some((l) => l.startsWith('OK'))), 5000);
        const users = await Promise.all([registerAndLogin(a), registerAndLogin(b), registerAndLogin(a)]);
        for (const user of users) {
          const second = await b.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
          const refreshed = await a.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
          await b.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200); // within the grace period
          await a.http().get('/auth/sessions').set(bearer(refreshed.body.accessToken)).expect(200);
          await a.http().post('/auth/logout').set(bearer(second.body.accessToken)).expect(204);
          await b.http().post('/auth/logout-all-devices').set(bearer(refreshed.body.accessToken)).expect(204);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        for (const m of monitors) m.child.kill('SIGKILL');
      }
      const audit = auditSlots(monitors.flatMap((m) => m.lines));
      expect(audit.problems).toEqual([]);
      expect(audit.scripts).toBeGreaterThan(20);
      expect(audit.keys).toBeGreaterThan(audit.scripts);
    });

    test('the slot audit catches a key of another slot (self-check)', () => {
      expect(
        auditSlots([
          '1.0 [0 127.0.0.1:1] "EVALSHA" "abc" "1" "s:{userA}"',
          '1.1 [0 lua] "HSET" "s:{userA}:x" "e" "1"',
          '1.2 [0 lua] "HSET" "s:{userC}:x" "e" "1"',
        ]).problems,
      ).toHaveLength(1);
    });
  }

  test('a primary killed mid-run: 503 (never 500) until promotion, then recovery without a new login', async () => {
    const user = await registerAndLogin(a);
    const victim = await topology.primaryOf(indexKey(user.userId));
    await b.http().get('/users/me').set(bearer(user.accessToken)).expect(200);

    const statuses: number[] = [];
    const readiness: number[] = [];
    const killedAt = Date.now();
    topology.kill(victim);
    let recoveredAfter = 0;
    await until(
      'both instances serve the session again',
      async () => {
        const [onA, onB, ready] = await Promise.all([
          a.http().get('/users/me').set(bearer(user.accessToken)),
          b.http().get('/users/me').set(bearer(user.accessToken)),
          a.http().get('/health/ready'),
        ]);
        statuses.push(onA.status, onB.status, ready.status);
        readiness.push(ready.status);
        if (onA.status === 200 && onB.status === 200 && ready.status === 200 && statuses.includes(503)) {
          recoveredAfter = Date.now() - killedAt;
          return true;
        }
        return false;
      },
      30_000,
    );
    expect(statuses).toContain(503);
    // /health/ready said so too while the primary was gone, and says ok again after.
    expect(readiness).toContain(503);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(recoveredAfter).toBeLessThan(20_000);
    // The session reached the replica before the login was answered (REDIS_WAIT_REPLICAS=1): it is
    // still alive on the promoted primary (above). Its shard has no replica left now, so a rotation
    // is not acknowledged by one: 503, not a silent loss of durability.
    const unreplicated = await b.http().post('/auth/refresh').set('Cookie', user.cookie);
    expect(unreplicated.status).toBe(503);
    await a.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
  });
});

/** A new user, registered and logged in; 503s while a cluster settles after an earlier test are retried. */
async function loggedIn(app: TestApp): Promise<Awaited<ReturnType<typeof registerAndLogin>>> {
  let user: Awaited<ReturnType<typeof registerAndLogin>> | undefined;
  await until('a registration and login', async () => {
    user = await registerAndLogin(app);
    return true;
  });
  return user!;
}

describeTopologies('Redis Cluster with cluster-require-full-coverage no', () => {
  let cluster: LocalCluster;
  let app: TestApp;
  let keyDir: string;

  beforeAll(async () => {
    cluster = await startCluster({ requireFullCoverage: false });
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    app = await startApp({
      REDIS_URL: undefined,
      REDIS_CLUSTER_NODES: cluster.nodes,
      JWT_PRIVATE_KEY_FILE: keyFile,
      SERVER_SECRETS: randomBytes(32).toString('hex'),
    });
  });
  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('a frozen master (SIGSTOP) is noticed: its users get 503, not answers from memory; the others keep working; SIGCONT recovers', async () => {
    const frozen = await loggedIn(app);
    const master = await cluster.masterOf(indexKey(frozen.userId));
    let other = await loggedIn(app);
    while ((await cluster.masterOf(indexKey(other.userId))) === master) other = await loggedIn(app);
    // Cached now: from here on the session check makes no round trip, so only the heartbeat can notice the freeze.
    await app.http().get('/users/me').set(bearer(frozen.accessToken)).expect(200);
    await app.http().get('/users/me').set(bearer(frozen.accessToken)).expect(200);

    cluster.kill(master, 'SIGSTOP');
    try {
      await until(
        'the frozen master is noticed',
        async () => (await app.http().get('/users/me').set(bearer(frozen.accessToken))).status === 503,
        10_000,
      );
      await app.http().get('/users/me').set(bearer(other.accessToken)).expect(200);
    } finally {
      cluster.kill(master, 'SIGCONT');
    }
    // Thawed (or replaced by its promoted replica): the same session works again without a new login.
    await until(
      'the session is served again',
      async () => (await app.http().get('/users/me').set(bearer(frozen.accessToken))).status === 200,
      20_000,
    );
    await app.http().get('/health/ready').expect(200);
    // The thawed node rejoins (as a replica once its own was promoted): wait until every node agrees
    // and a few logins in a row, which may touch any shard (their rate limits), all work.
    await until(
      'the cluster settles',
      async () => {
        const views = await Promise.all(cluster.ports.map((p) => cli(p, 'cluster', 'nodes')));
        return views.every((v) => !/fail/.test(v) && (v.match(/master/g) ?? []).length === 3);
      },
      20_000,
    );
    let inARow = 0;
    await until(
      'logins work again',
      async () => {
        const status = (await app.http().post('/auth/login').send({ email: other.email, password: PASSWORD })).status;
        inARow = status === 200 ? inARow + 1 : 0;
        return inARow >= 5;
      },
      20_000,
    );
  });

  test('a shard down (master and replica) fails only its own users; the others keep working and readiness follows the cluster', async () => {
    // Whatever an earlier test left settling, a user is registered and logged in once it serves (loggedIn retries).
    const lost = await loggedIn(app);
    const deadMaster = await cluster.masterOf(indexKey(lost.userId));
    let kept = await loggedIn(app);
    while ((await cluster.masterOf(indexKey(kept.userId))) === deadMaster) kept = await loggedIn(app);
    const deadReplica = await cluster.replicaOf(deadMaster);
    await app.http().get('/users/me').set(bearer(lost.accessToken)).expect(200);

    cluster.kill(deadReplica);
    cluster.kill(deadMaster);
    const alive = cluster.ports.find((p) => p !== deadMaster && p !== deadReplica)!;
    await until('the cluster marks the shard as failed', async () => /master,fail /.test(await cli(alive, 'cluster', 'nodes')));
    // The cluster itself still serves what it covers (that is what `no` means)…
    expect(await cli(alive, 'cluster', 'info')).toContain('cluster_state:ok');
    await until('the lost shard is noticed', async () => (await app.http().get('/users/me').set(bearer(lost.accessToken))).status === 503);

    // …and so does Tessera: the other user's session check (a cached read) and session scripts work.
    for (let i = 0; i < 5; i++) await app.http().get('/users/me').set(bearer(kept.accessToken)).expect(200);
    await app.http().get('/health/ready').expect(200);
    // The lost shard's user is refused with 503 (never 500, never served from a stale cache).
    const refused = await app.http().get('/users/me').set(bearer(lost.accessToken));
    expect(refused.status).toBe(503);
    expect(refused.body.type).toBeDefined();
    // Listing and ending a session are scripts on the user's own slot (no rate limit, whose key may sit on the lost shard).
    const sessions = await app.http().get('/auth/sessions').set(bearer(kept.accessToken)).expect(200);
    const current = (sessions.body as { id: string; current: boolean }[]).find((s) => s.current)!;
    await app.http().delete(`/auth/sessions/${current.id}`).set(bearer(kept.accessToken)).expect(204);
    await app.http().get('/users/me').set(bearer(kept.accessToken)).expect(401);
  });
});

describeTopologies('Sentinel failover and writes already answered 503', () => {
  test('a write sent just after the primary died is answered 503 and never lands on the promoted replica', async () => {
    const group = await startSentinelGroup();
    const redis = new RedisService({
      sentinel: { sentinels: group.sentinels.map((port) => ({ host: '127.0.0.1', port })), master: group.name },
      commandTimeoutMs: 300,
    });
    try {
      await redis.connect();
      expect(redis.isReady).toBe(true);
      const tickets = new RedisTicketStore(redis);
      await tickets.put('before', 'kept', 60);
      group.kill(group.primary);
      // Sent at once, while the heartbeat has not yet noticed: node-redis holds them until a new primary exists.
      const keys = Array.from({ length: 5 }, (_, i) => `late-${i}`);
      const results = await Promise.allSettled(keys.map((key) => tickets.put(key, 'late', 60)));
      expect(results.map((r) => r.status === 'rejected' && r.reason instanceof DependencyUnavailableError)).toEqual(keys.map(() => true));
      await until(
        'the replica is promoted and Tessera follows it',
        async () => redis.isReady && (await group.currentPrimary()) === group.replica,
        30_000,
      );
      // Give any held command the time to reach the new primary, then look.
      await until('a ticket write through the new primary', async () => {
        await tickets.put('after', 'ok', 60);
        return true;
      });
      expect(await tickets.peek('before')).toBe('kept'); // replicated before the kill
      for (const key of keys) expect(await tickets.peek(key)).toBeUndefined();
    } finally {
      await redis.close();
      await group.stop();
    }
  });
});

describeTopologies('Sentinel unreachable at start-up', () => {
  test('503 (never 500) while no sentinel answers, then ready and working once the group starts, without a restart', async () => {
    const ports = await freePorts(5);
    const name = 'latemaster';
    const keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    let group: LocalSentinelGroup | undefined;
    const app = await startApp({
      REDIS_URL: undefined,
      REDIS_SENTINELS: ports
        .slice(2)
        .map((port) => `127.0.0.1:${port}`)
        .join(','),
      REDIS_SENTINEL_MASTER: name,
      JWT_PRIVATE_KEY_FILE: keyFile,
      SERVER_SECRETS: randomBytes(32).toString('hex'),
    });
    try {
      await app.http().get('/health/ready').expect(503);
      const login = await app.http().post('/auth/login').send({ email: 'nobody@example.com', password: PASSWORD });
      expect(login.status).toBe(503);
      // node-redis's own connect loop gives up after maxCommandRediscovers (16) rounds a second
      // apart; start the group only after that, when only a new sentinel object can connect.
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      await app.http().get('/health/ready').expect(503);
      group = await startSentinelGroup({ name, ports });
      await until('ready once the sentinels answer', async () => (await app.http().get('/health/ready')).status === 200, 30_000);
      const user = await registerAndLogin(app);
      await app.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await app.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    } finally {
      await app.close();
      await group?.stop();
      rmSync(keyDir, { recursive: true, force: true });
    }
  }, 120_000);
});
