import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { within, withDeadline } from '../common/deadline.js';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';
import { describeCause } from '../common/problems/problem-details.filter.js';
import { Problems } from '../common/problems/problem.js';
import { auditConfig } from '../config/configuration.js';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';
import {
  parseEvent,
  safeDetails,
  type SecurityEvent,
  type SecurityEventInput,
  securityEventName,
  serializeEvent,
} from './security-event.js';
import { type SecurityEventFilter, SecurityEventsRepository } from './security-events.repository.js';
import { isUuid } from '../common/ids.js';

/** Events waiting for PostgreSQL, shared by every instance (one Redis list). */
export const PENDING_KEY = 'audit:pending';
/** A request waits at most this long for its event's write; after it the event is parked, not lost. */
const WRITE_DEADLINE_MS = 500;
/** The flusher's writes may take longer: nobody waits on them. */
const FLUSH_DEADLINE_MS = 5000;
const FLUSH_INTERVAL_MS = 1000;
const FLUSH_BATCH = 100;
/** Without Redis (or while it is down too), events wait in memory, up to this many. */
const MAX_IN_MEMORY = 10_000;
const PRUNE_INTERVAL_MS = 60 * 60_000;

export interface EventPage {
  items: SecurityEvent[];
  nextCursor: string | null;
}

/**
 * Records security events: one structured log line, one Nest event (`security.<type>`), and one
 * PostgreSQL row. `record` never throws and never fails the request that caused the event: when
 * PostgreSQL does not answer quickly the event waits in Redis (or, without Redis, in memory) and
 * a background flusher writes it, with its original time, once PostgreSQL is back.
 */
@Injectable()
export class SecurityEventsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SecurityEvents');
  private memory: SecurityEvent[] = [];
  private droppedFromMemory = 0;
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: SecurityEventsRepository,
    private readonly emitter: EventEmitter2,
    @Inject(auditConfig.KEY) private readonly config: ConfigType<typeof auditConfig>,
    @Optional() @Inject(REDIS) private readonly redis: RedisService | null,
  ) {}

  onApplicationBootstrap(): void {
    // Unref'd: they never keep a process (or a test run) alive, and are cleared on shutdown.
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    this.pruneTimer = setInterval(() => void this.prune().catch(() => undefined), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    void this.prune().catch((error: unknown) => this.logger.warn(`Pruning security events failed: ${describe(error)}`));
  }

  /** Before Redis and the database close: one last attempt to write what waits in memory. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    await this.flushing;
    if (this.memory.length > 0) await withDeadline(this.flush(), FLUSH_DEADLINE_MS, undefined);
    if (this.memory.length > 0) this.logger.error(`${this.memory.length} security events could not be written before shutdown`);
  }

  /** Never throws; resolves once the event is written or parked (at most WRITE_DEADLINE_MS on the database). */
  async record(input: SecurityEventInput): Promise<void> {
    try {
      const event = this.build(input);
      this.publish(event);
      if (!(await this.write([event], WRITE_DEADLINE_MS))) await this.park([event]);
    } catch (error) {
      this.logger.error(`Security event ${input.type} could not be recorded: ${describe(error)}`);
    }
  }

  /** Newest first; `cursor` is the opaque `nextCursor` of the previous page. */
  async list(filter: Omit<SecurityEventFilter, 'before'>, limit: number, cursor?: string): Promise<EventPage> {
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.repository.list({ ...filter, before }, limit + 1);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** Deletes events older than AUDIT_RETENTION. Runs at start-up and hourly; every instance may run it. */
  async prune(now = Date.now()): Promise<number> {
    const deleted = await this.repository.deleteOlderThan(new Date(now - this.config.retentionSeconds * 1000));
    if (deleted > 0) this.logger.log(`Pruned ${deleted} security events older than AUDIT_RETENTION`);
    return deleted;
  }

  /** Events waiting in this process's memory (Redis-less or Redis-down outages). */
  get pendingInMemory(): number {
    return this.memory.length;
  }

  /**
   * Moves waiting events to PostgreSQL. Memory first (to PostgreSQL, else to Redis, which every
   * instance drains), then the Redis list: a batch is read, inserted (idempotent by id), and only
   * then removed value by value (LREM), so a crash between the two repeats the insert harmlessly
   * and several instances flushing at once never remove each other's unwritten events.
   */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.memory.length > 0) {
      const batch = this.memory.slice(0, FLUSH_BATCH);
      if ((await this.write(batch, FLUSH_DEADLINE_MS)) || (await this.pushToRedis(batch))) {
        const done = new Set(batch);
        this.memory = this.memory.filter((e) => !done.has(e));
      }
    }
    const redis = this.redis;
    if (!redis?.isReady) return;
    const raw = await redis.run((client) => client.lRange(PENDING_KEY, 0, FLUSH_BATCH - 1), PENDING_KEY).catch(() => [] as string[]);
    if (raw.length === 0) return;
    const events = raw.map(parseEvent);
    const unreadable = events.filter((e) => !e).length;
    if (unreadable > 0) this.logger.error(`Dropping ${unreadable} unreadable entries from ${PENDING_KEY}`);
    if (
      !(await this.write(
        events.filter((e): e is SecurityEvent => e !== undefined),
        FLUSH_DEADLINE_MS,
      ))
    )
      return;
    await redis
      .run((client) => {
        const multi = client.multi();
        for (const value of raw) multi.lRem(PENDING_KEY, 1, value);
        return multi.exec();
      }, PENDING_KEY)
      // Not removed: the next flush inserts them again, which changes nothing.
      .catch(() => undefined);
  }

  private build(input: SecurityEventInput): SecurityEvent {
    const context = input.context ?? {};
    return {
      id: randomUUID(),
      time: new Date(),
      type: input.type,
      userId: input.userId ?? null,
      actorId: context.actorId ?? null,
      ip: context.ip ?? null,
      userAgent: context.userAgent ?? null,
      sessionId: input.sessionId ?? null,
      outcome: input.outcome ?? 'success',
      details: safeDetails(input.details),
    };
  }

  /** The log line and the Nest event; a failing listener is logged, never the caller's problem. */
  private publish(event: SecurityEvent): void {
    const fields = { ...event, time: event.time.toISOString() };
    if (event.outcome === 'failure') this.logger.warn({ securityEvent: fields }, `security event ${event.type}`);
    else this.logger.log({ securityEvent: fields }, `security event ${event.type}`);
    try {
      this.emitter.emit(securityEventName(event.type), Object.freeze({ ...event, details: { ...event.details } }));
    } catch (error) {
      this.logger.error(`A listener of ${securityEventName(event.type)} failed: ${describe(error)}`);
    }
  }

  /**
   * True once the events are in PostgreSQL (or refused by it for good); false when it did not
   * answer in time or is unreachable, and the events must wait.
   */
  private async write(events: SecurityEvent[], deadlineMs: number): Promise<boolean> {
    if (events.length === 0) return true;
    try {
      await this.insertWithin(events, deadlineMs);
      return true;
    } catch (error) {
      if (!isRefusedRow(error)) return false;
    }
    // A row the database refuses (bad data, not an outage) would block the queue forever: the
    // others are written one by one, and that one is logged and dropped.
    for (const event of events) {
      try {
        await this.insertWithin([event], deadlineMs);
      } catch (error) {
        if (!isRefusedRow(error)) return false;
        this.logger.error(`Security event ${event.id} (${event.type}) refused by the database and dropped: ${describe(error)}`);
      }
    }
    return true;
  }

  private insertWithin(events: SecurityEvent[], deadlineMs: number): Promise<void> {
    return within(this.repository.insert(events), deadlineMs, () => {
      throw new DependencyUnavailableError('database');
    });
  }

  /** PostgreSQL did not take it: Redis keeps it for whichever instance flushes next; else memory. */
  private async park(events: SecurityEvent[]): Promise<void> {
    if (await this.pushToRedis(events)) return;
    this.memory.push(...events);
    if (this.memory.length > MAX_IN_MEMORY) {
      const dropped = this.memory.splice(0, this.memory.length - MAX_IN_MEMORY);
      this.droppedFromMemory += dropped.length;
      this.logger.error(
        `Security event queue full: ${this.droppedFromMemory} oldest events dropped so far (types: ${dropped.map((e) => e.type).join(', ')})`,
      );
    }
  }

  private async pushToRedis(events: SecurityEvent[]): Promise<boolean> {
    if (!this.redis) return false;
    return this.redis
      .run((client) => client.rPush(PENDING_KEY, events.map(serializeEvent)), PENDING_KEY)
      .then(
        () => true,
        () => false,
      );
  }
}

function encodeCursor(event: SecurityEvent): string {
  return Buffer.from(`${event.time.toISOString()}|${event.id}`).toString('base64url');
}

/**
 * A cursor this server did not make is a 400, not a 500 from the database: it must be exactly what
 * encodeCursor gives for its own decoding (one spelling per cursor), with a year PostgreSQL takes.
 */
function decodeCursor(cursor: string): { time: Date; id: string } {
  const [time, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(time ?? '');
  const year = date.getUTCFullYear();
  if (
    rest.length > 0 ||
    !id ||
    !isUuid(id) ||
    Number.isNaN(date.getTime()) ||
    year < 1 ||
    year > 9999 ||
    encodeCursor({ time: date, id } as SecurityEvent) !== cursor
  ) {
    throw Problems.validation([{ field: 'cursor', message: 'cursor is not a cursor this server returned' }]);
  }
  return { time: date, id };
}

/** PostgreSQL answered and refused the data (SQLSTATE class 22 data exception, 23 integrity): retrying will not help. */
function isRefusedRow(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/** Names and codes only: drizzle's and PostgreSQL's messages quote the parameters (ip, user agent, details). */
function describe(error: unknown): string {
  return describeCause(error);
}
