import { beforeAll, describe, expect, test } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { SecurityEvent } from './security-event.js';
import type { SecurityEventsRepository } from './security-events.repository.js';
import { PENDING_KEY, SecurityEventsService } from './security-events.service.js';
import type { RedisService } from '../redis/redis.service.js';

const outage = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

/** PostgreSQL as the service sees it: idempotent by id, and able to go away. */
class FakeDatabase {
  down = false;
  /** Ids PostgreSQL refuses for good (bad data), as SQLSTATE 22P02 would. */
  refused = new Set<string>();
  readonly rows = new Map<string, SecurityEvent>();
  inserts = 0;

  asRepository(): SecurityEventsRepository {
    return {
      insert: async (events: SecurityEvent[]) => {
        this.inserts++;
        if (this.down) throw outage();
        if (events.some((e) => this.refused.has(e.id)))
          throw Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' });
        for (const e of events) if (!this.rows.has(e.id)) this.rows.set(e.id, e);
      },
      list: async () => [...this.rows.values()],
    } as unknown as SecurityEventsRepository;
  }
}

/** A Redis list behind RedisService.run, able to go away, and to fail the removal once (a crash after the insert). */
class FakeRedis {
  down = false;
  failNextRemoval = false;
  readonly list: string[] = [];

  asService(): RedisService {
    const client = {
      rPush: async (_key: string, values: string[]) => this.list.push(...values),
      lRange: async (_key: string, start: number, stop: number) => this.list.slice(start, stop === -1 ? undefined : stop + 1),
      multi: () => {
        const removals: string[] = [];
        const multi = {
          lRem: (_key: string, _count: number, value: string) => {
            removals.push(value);
            return multi;
          },
          exec: async () => {
            if (this.failNextRemoval) {
              this.failNextRemoval = false;
              throw outage();
            }
            for (const value of removals) {
              const at = this.list.indexOf(value);
              if (at >= 0) this.list.splice(at, 1);
            }
          },
        };
        return multi;
      },
    };
    return {
      get isReady() {
        return true;
      },
      run: async (operation: (c: typeof client) => Promise<unknown>) => {
        if (this.down) throw outage();
        return operation(client);
      },
    } as unknown as RedisService;
  }
}

function service(db: FakeDatabase, redis: FakeRedis | null, emitter = new EventEmitter2({ wildcard: true, delimiter: '.' })) {
  return new SecurityEventsService(db.asRepository(), emitter, { retentionSeconds: 90 * 86400 }, redis ? redis.asService() : null);
}

describe('SecurityEventsService: nothing lost, nothing doubled, never the caller’s failure', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  test('PostgreSQL up: written at once, with a UUID and the time it happened', async () => {
    const db = new FakeDatabase();
    await service(db, new FakeRedis()).record({ type: 'login.succeeded', userId: 'u1', context: { ip: '192.0.2.1', userAgent: 'ua' } });
    const [event] = [...db.rows.values()];
    expect(event).toMatchObject({
      type: 'login.succeeded',
      userId: 'u1',
      ip: '192.0.2.1',
      userAgent: 'ua',
      outcome: 'success',
      actorId: null,
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.now() - event.time.getTime()).toBeLessThan(1000);
  });

  test('PostgreSQL down: parked in Redis, flushed when it is back, and removed from Redis only then', async () => {
    const db = new FakeDatabase();
    const redis = new FakeRedis();
    const events = service(db, redis);
    db.down = true;
    await events.record({ type: 'session.revoked', userId: 'u1', details: { reason: 'logout' } });
    expect(redis.list).toHaveLength(1);
    expect(JSON.parse(redis.list[0])).toMatchObject({ id: expect.any(String), time: expect.any(String), type: 'session.revoked' });
    await events.flush();
    expect(redis.list).toHaveLength(1);

    db.down = false;
    // The insert commits but the removal fails (as a crash between the two would): the next flush
    // inserts again, which adds nothing, and removes it.
    redis.failNextRemoval = true;
    await events.flush();
    expect(db.rows.size).toBe(1);
    expect(redis.list).toHaveLength(1);
    await events.flush();
    expect(db.rows.size).toBe(1);
    expect(redis.list).toHaveLength(0);
    expect(PENDING_KEY).toBe('audit:pending');
  });

  test('PostgreSQL and Redis both down: kept in memory, moved to Redis when it returns, then to PostgreSQL', async () => {
    const db = new FakeDatabase();
    const redis = new FakeRedis();
    const events = service(db, redis);
    db.down = true;
    redis.down = true;
    await events.record({ type: 'password.changed', userId: 'u1' });
    expect(events.pendingInMemory).toBe(1);
    await events.flush();
    expect(events.pendingInMemory).toBe(1);

    redis.down = false;
    await events.flush();
    expect(events.pendingInMemory).toBe(0);
    expect(redis.list).toHaveLength(1);

    db.down = false;
    await events.flush();
    expect(redis.list).toHaveLength(0);
    expect([...db.rows.values()].map((e) => e.type)).toEqual(['password.changed']);
  });

  test('without Redis: memory, then PostgreSQL, with the original time', async () => {
    const db = new FakeDatabase();
    const events = service(db, null);
    db.down = true;
    await events.record({ type: 'login.failed', outcome: 'failure', details: { reason: 'wrong_password' } });
    const happened = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    db.down = false;
    await events.flush();
    const [event] = [...db.rows.values()];
    expect(event.time.getTime()).toBeLessThanOrEqual(happened);
    expect(events.pendingInMemory).toBe(0);
  });

  test('a row PostgreSQL refuses for good is dropped, and does not hold back the others', async () => {
    const db = new FakeDatabase();
    const redis = new FakeRedis();
    const events = service(db, redis);
    db.down = true;
    await events.record({ type: 'login.succeeded', userId: 'a' });
    await events.record({ type: 'login.succeeded', userId: 'b' });
    const poisoned = JSON.parse(redis.list[0]).id as string;
    db.refused.add(poisoned);
    db.down = false;
    await events.flush();
    expect([...db.rows.values()].map((e) => e.userId)).toEqual(['b']);
    expect(redis.list).toHaveLength(0);
  });

  test('a throwing listener, secret-looking details: the caller never sees an error, the row never a secret', async () => {
    const db = new FakeDatabase();
    const emitter = new EventEmitter2({ wildcard: true, delimiter: '.' });
    const heard: string[] = [];
    emitter.on('security.**', function (this: { event: string }) {
      heard.push(this.event);
      throw new Error('listener bug');
    });
    await expect(
      service(db, null, emitter).record({
        type: 'login.failed',
        outcome: 'failure',
        details: { reason: 'wrong_password', password: 'hunter2hunter2', nested: { refreshToken: 'x', accessToken: 'y', ok: 1 } },
      }),
    ).resolves.toBeUndefined();
    expect(heard).toEqual(['security.login.failed']);
    const [event] = [...db.rows.values()];
    expect(event.details).toEqual({ reason: 'wrong_password', nested: { ok: 1 } });
  });

  test('a crafted cursor (year 0000, 10000, or not re-encoding to itself) is a 400, never reaches PostgreSQL', async () => {
    const events = service(new FakeDatabase(), null);
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const id = '0000000a-0000-4000-8000-00000000000b';
    for (const c of [
      cursor(`0000-01-01T00:00:00.000Z|${id}`),
      cursor(`2024-01-01T00:00:00Z|${id}`),
      cursor(`2024-02-30T00:00:00.000Z|${id}`),
      cursor(`2024-01-01T00:00:00.000Z|${id.toUpperCase()}`),
      `${cursor(`2024-01-01T00:00:00.000Z|${id}`)}=`,
    ]) {
      const outcome = await events.list({}, 10, c).then(
        () => 'accepted',
        (error: { code?: string }) => error.code,
      );
      expect([Buffer.from(c, 'base64url').toString(), outcome]).toEqual([Buffer.from(c, 'base64url').toString(), 'validation_failed']);
    }
    await expect(events.list({}, 10, cursor(`2024-01-01T00:00:00.000Z|${id}`))).resolves.toMatchObject({ items: [] });
  });

  test('database errors are logged by name and code, never by message (drizzle quotes the parameters)', async () => {
    const lines: string[] = [];
    Logger.overrideLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (m: unknown) => lines.push(String(m)),
      debug: () => undefined,
      verbose: () => undefined,
    });
    try {
      const db = new FakeDatabase();
      const repository = db.asRepository();
      repository.insert = async () => {
        throw Object.assign(new Error('Failed query: insert ... params: secret@example.com,192.0.2.9'), {
          code: '22P02',
          severity: 'ERROR',
        });
      };
      await new SecurityEventsService(repository, new EventEmitter2(), { retentionSeconds: 1 }, null).record({
        type: 'login.failed',
        userId: 'u1',
      });
      expect(lines.join('\n')).toMatch(/22P02/);
      expect(lines.join('\n')).not.toMatch(/secret@example\.com|192\.0\.2\.9|params/);
    } finally {
      Logger.overrideLogger(false);
    }
  });
});
