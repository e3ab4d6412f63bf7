import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { RedisService, type RedisOptions } from '../src/redis/redis.service.js';
import { haveRedisServer, startCluster, startSentinelGroup } from './support/redis-topologies.js';
import { MemoryTicketStore, RedisTicketStore, type TicketStore } from '../src/tickets/ticket-store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const fixtures: [string, () => Promise<{ store: TicketStore; close(): Promise<void> }>][] = [
  ['memory', async () => ({ store: new MemoryTicketStore(), close: async () => undefined })],
];
// The Redis store runs whenever REDIS_URL is set; CI sets it and global-setup refuses CI without it.
if (process.env.REDIS_URL) {
  fixtures.push([
    'redis',
    async () => {
      const redis = new RedisService({ url: process.env.REDIS_URL!, commandTimeoutMs: 2000 });
      await redis.connect();
      if (!redis.isReady) throw new Error('Redis at REDIS_URL is unreachable');
      return { store: new RedisTicketStore(redis), close: () => redis.close() };
    },
  ]);
}

// On real local topologies too (started here from redis-server).
if (haveRedisServer()) {
  const onTopology = (start: () => Promise<{ options: Omit<RedisOptions, 'commandTimeoutMs'>; stop(): Promise<void> }>) => async () => {
    const topology = await start();
    const redis = new RedisService({ ...topology.options, commandTimeoutMs: 2000 });
    await redis.connect();
    if (!redis.isReady) throw new Error('the local Redis topology is not ready');
    return {
      store: new RedisTicketStore(redis),
      close: async () => {
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
        return { options: { cluster: { nodes: cluster.nodes.split(',') } }, stop: cluster.stop };
      }),
    ],
    [
      'redis sentinel',
      onTopology(async () => {
        const group = await startSentinelGroup();
        return {
          options: { sentinel: { sentinels: group.sentinels.map((port) => ({ host: '127.0.0.1', port })), master: group.name } },
          stop: group.stop,
        };
      }),
    ],
  );
}

describe.each(fixtures)('TicketStore contract: %s', (_name, makeFixture) => {
  let fixture: { store: TicketStore; close(): Promise<void> };
  let store: TicketStore;
  beforeAll(async () => {
    fixture = await makeFixture();
    store = fixture.store;
  });
  afterAll(() => fixture.close());
  const key = () => `test-${randomUUID()}`;

  test('a ticket can be read, then is used up exactly once', async () => {
    const k = key();
    await store.put(k, 'value-1', 60);
    expect(await store.peek(k)).toBe('value-1');
    expect(await store.take(k)).toBe('value-1');
    expect(await store.take(k)).toBeUndefined();
    expect(await store.peek(k)).toBeUndefined();
  });

  test('concurrent takers: only one gets the ticket', async () => {
    const k = key();
    await store.put(k, 'once', 60);
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.take(k)));
    expect(taken.filter((value) => value === 'once')).toHaveLength(1);
  });

  test('putting again replaces the value', async () => {
    const k = key();
    await store.put(k, 'a', 60);
    await store.put(k, 'b', 60);
    expect(await store.take(k)).toBe('b');
  });

  test('a ticket expires after its lifetime', async () => {
    const k = key();
    await store.put(k, 'short', 1);
    await sleep(1100);
    expect(await store.peek(k)).toBeUndefined();
    expect(await store.take(k)).toBeUndefined();
  });
});
