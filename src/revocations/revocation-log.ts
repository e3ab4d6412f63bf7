import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import keySlot from 'cluster-key-slot';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';
import { type DedicatedConnection, luaScript, type RedisService } from '../redis/redis.service.js';
import { type FeedEntry, type RevocationEvent, compareEntryIds, toEvent } from './revocation-event.js';

/**
 * Where the revocation feed lives, as the feed service sees it: an ordered log of events with
 * positions, and a live tail. RedisRevocationLog (shared by every instance) or MemoryRevocationLog
 * (one instance without Redis).
 */
export interface RevocationLog {
  /**
   * Up to `count` stored entries after `afterId` (exclusive; FEED_START for all that is kept),
   * oldest first; those this version can read are in `entries`. `last`: the last stored id read,
   * readable or not (where the next page starts); `done`: the end was reached.
   */
  range(afterId: string, count: number): Promise<FeedPage>;
  /** Whether the entry is still kept (resuming after it misses nothing). */
  has(id: string): Promise<boolean>;
  /** Starts (once) the live tail; resolves when it is positioned. Throws 503 when it cannot be. */
  ready(): Promise<void>;
  /**
   * Every entry appended from now on reaches `listeners.entries`; false (nothing registered) when
   * the live tail is down. Synchronous, so a stream registers and unregisters in its own lifetime.
   */
  follow(listeners: FeedListeners): boolean;
  /** Stops delivering to `listeners` (their stream ended). */
  unfollow(listeners: FeedListeners): void;
  /** Records a user event (roles changed). */
  publishUser(sub: string, notBefore: number): Promise<void>;
  close(): Promise<void>;
}

/** One page of the log: see RevocationLog.range. */
export interface FeedPage {
  entries: FeedEntry[];
  last: string | undefined;
  done: boolean;
}

/** One open stream's hooks: new entries in order; `down` when the live tail was lost (the stream ends). */
export interface FeedListeners {
  entries: (entries: FeedEntry[]) => void;
  down: () => void;
}

/**
 * The latest `exp` an access token issued before `nowMs` can have (capped by its session's absolute
 * end), plus the clock tolerance either way: a verifier may forget the entry after `until`, so it
 * must cover the leeway with which a verifier still accepts the token.
 */
export function sessionUntil(nowMs: number, absoluteExpiresAtMs: number, ttlSeconds: number, toleranceSeconds: number): number {
  return Math.min(Math.floor(absoluteExpiresAtMs / 1000), Math.floor(nowMs / 1000) + ttlSeconds) + toleranceSeconds;
}

const STREAM = 'rv:{feed}';
const LEASE = 'rv:{feed}:sweeper';
/** One node or Sentinel: every key is in reach of every script, one outbox serves all users. */
const SINGLE_OUTBOX = 'rv:{feed}:o';
/** Outbox entries younger than this are their writer's to relay; the sweeper takes the older ones. */
const ORPHAN_AFTER_MS = 2000;
const SWEEP_EVERY_MS = 1000;
const LEASE_MS = 5000;
const BLOCK_MS = 1000;
/** A blocking read that has not returned by then means the connection is gone. */
const READ_DEADLINE_MS = BLOCK_MS + 2000;
const BATCH = 200;
/** How far back from the tail a relay looks for its own entries: a revokeAll of the largest session cap (1000) fits. */
const RELAY_WINDOW = 2000;
const SWEEP_CHUNK = 1024;

let tagsBySlot: string[] | undefined;

/**
 * For every cluster slot, a short hash tag that hashes to it, so `rv:{tag}:o` is the outbox in that
 * slot. A script may touch any key of its own slot, so a user's session scripts (`s:{U}…`) write
 * their slot's outbox atomically with the deletion, and the sweeper knows every outbox that can
 * exist (16384 keys) without scanning the keyspace. Built once (~150k CRC16s, a few ms).
 */
function slotTags(): string[] {
  if (tagsBySlot) return tagsBySlot;
  const tags = new Array<string>(16384);
  let missing = tags.length;
  for (let i = 0; missing > 0; i++) {
    const tag = i.toString(36);
    const slot = keySlot(tag);
    if (tags[slot] === undefined) {
      tags[slot] = tag;
      missing--;
    }
  }
  return (tagsBySlot = tags);
}

/** On a cluster: the outbox in the slot of `key`. */
export function clusterOutboxFor(key: string): string {
  return `rv:{${slotTags()[keySlot(key)]}}:o`;
}

/**
 * KEYS: stream. ARGV: retention (ms), event JSON... Appends in order; returns the ids. The trim bound
 * comes from Redis's clock, the one entry ids come from: an instance's clock cannot trim live entries.
 */
const PUBLISH = luaScript(`
local t = redis.call('TIME')
local minId = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1]))
local ids = {}
for i = 2, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MINID', '~', minId, '*', 'e', ARGV[i])
end
return ids
`);

/** KEYS: outbox. ARGV: entries to remove (exact values: each carries a unique op id). */
const ACKNOWLEDGE = luaScript(`
for i = 1, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return 1
`);

/** KEYS: lease. ARGV: holder, ms. 1 when the caller holds the lease (now or still). */
const TAKE_LEASE = luaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
`);

interface OutboxEntry {
  raw: string;
  op: string;
  at: number;
  event: RevocationEvent;
}

function parseOutboxEntry(raw: string): OutboxEntry | undefined {
  const event = toEvent(raw);
  if (!event) return undefined;
  const { op, at } = JSON.parse(raw) as { op?: unknown; at?: unknown };
  return { raw, op: typeof op === 'string' ? op : '', at: typeof at === 'number' ? at : 0, event };
}

/** A stream entry as XREAD/XRANGE send it raw: [id, [field, value, ...]]. */
function toEntries(rows: unknown): FeedEntry[] {
  const out: FeedEntry[] = [];
  for (const row of (rows as [string, string[]][] | null) ?? []) {
    const fields = row[1] ?? [];
    const json = fields[fields.indexOf('e') + 1];
    const event = typeof json === 'string' ? toEvent(json) : undefined;
    if (event) out.push({ id: String(row[0]), event });
  }
  return out;
}

/** The id of the last raw row, readable or not: a reader's position must pass entries it cannot read. */
function lastRowId(rows: unknown): string | undefined {
  const list = (rows as [string, string[]][] | null) ?? [];
  return list.length ? String(list[list.length - 1][0]) : undefined;
}

/** XRANGE through node-redis's typed command: [{id, message: {e}}]. */
function fromTyped(rows: { id: string; message: Record<string, string> }[]): FeedEntry[] {
  const out: FeedEntry[] = [];
  for (const row of rows) {
    const event = typeof row.message.e === 'string' ? toEvent(row.message.e) : undefined;
    if (event) out.push({ id: row.id, event });
  }
  return out;
}

/** XREAD's reply: RESP3 `{key: rows}` (object or Map), RESP2 `[[key, rows]]`, null on timeout. */
function xreadRows(reply: unknown): unknown {
  if (!reply) return [];
  if (reply instanceof Map) return reply.get(STREAM) ?? [];
  if (Array.isArray(reply)) return (reply as [string, unknown][]).find(([key]) => String(key) === STREAM)?.[1] ?? [];
  return (reply as Record<string, unknown>)[STREAM] ?? [];
}

/**
 * The feed in Redis, one Stream for every instance (`rv:{feed}`), trimmed (MINID) to the access-token
 * lifetime. Session scripts cannot write it on a cluster (another slot), so they write an outbox in
 * their own slot, atomically with the deletion; `relay` moves a request's own entries right after its
 * script, and a sweeper (one instance at a time, by lease) moves entries a crashed instance left
 * behind. Delivery is at least once (a relay and the sweeper may both move an entry).
 */
export class RedisRevocationLog implements RevocationLog {
  private readonly logger = new Logger('RevocationFeed');
  private readonly instance = randomUUID();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  private closed = false;
  private reader: DedicatedConnection | undefined;
  private reading: Promise<void> | undefined;
  private position: string | undefined;
  private up = false;
  private positioned: { promise: Promise<void>; resolve: () => void } | undefined;
  private readonly listeners = new Set<FeedListeners>();

  constructor(
    private readonly redis: RedisService,
    private readonly retentionMs: number,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /** The outbox a user's session scripts write (KEYS[2]): in the slot of their index key. */
  outboxFor(indexKey: string): string {
    return this.redis.topology === 'cluster' ? clusterOutboxFor(indexKey) : SINGLE_OUTBOX;
  }

  /** Every outbox that can exist. */
  private outboxes(): string[] {
    return this.redis.topology === 'cluster' ? slotTags().map((tag) => `rv:{${tag}}:o`) : [SINGLE_OUTBOX];
  }

  /** A fresh id marking one script run's outbox entries, so its relay moves only those. */
  newOperation(): string {
    return randomUUID();
  }

  /**
   * Moves the entries operation `op` wrote to the feed. Failures are logged, not thrown: the
   * revocation itself has happened, and the sweeper delivers what is left in the outbox.
   */
  async relay(outbox: string, op: string): Promise<void> {
    try {
      const raw = await this.redis.run<string[]>((client) => client.lRange(outbox, -RELAY_WINDOW, -1), outbox);
      const mine = raw.map(parseOutboxEntry).filter((entry): entry is OutboxEntry => entry?.op === op);
      await this.move(outbox, mine);
    } catch (error) {
      this.logger.warn(`Relay of revocations deferred to the sweeper: ${(error as Error).message}`);
    }
  }

  private async move(outbox: string, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const events = entries.map((entry) => JSON.stringify(entry.event));
    await this.redis.eval(PUBLISH, [STREAM], [String(this.retentionMs), ...events]);
    await this.redis.eval(
      ACKNOWLEDGE,
      [outbox],
      entries.map((entry) => entry.raw),
    );
  }

  /** Once a second, on the instance holding the lease: entries older than ORPHAN_AFTER_MS go to the feed. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.closed || !this.redis.isReady) return;
    this.sweeping = true;
    try {
      if ((await this.redis.eval(TAKE_LEASE, [LEASE], [this.instance, String(LEASE_MS)])) !== 1) return;
      for (const outbox of await this.nonEmptyOutboxes()) {
        const cutoff = Date.now() - ORPHAN_AFTER_MS;
        const raw = await this.redis.run<string[]>((client) => client.lRange(outbox, 0, BATCH - 1), outbox);
        const orphans = raw.map(parseOutboxEntry).filter((entry): entry is OutboxEntry => entry !== undefined && entry.at < cutoff);
        await this.move(outbox, orphans);
        // Not an event (should not happen): dropped, or it would block nothing but linger forever.
        const junk = raw.filter((value) => parseOutboxEntry(value) === undefined);
        if (junk.length) await this.redis.eval(ACKNOWLEDGE, [outbox], junk);
      }
    } catch (error) {
      this.logger.warn(`Revocation outbox sweep failed, retrying: ${(error as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * The outboxes holding entries: EXISTS on every possible one, pipelined in chunks (each chunk
   * within the command deadline; a chunk whose master is down is skipped until the next sweep).
   */
  private async nonEmptyOutboxes(): Promise<string[]> {
    const outboxes = this.outboxes();
    const found: string[] = [];
    for (let i = 0; i < outboxes.length; i += SWEEP_CHUNK) {
      const chunk = outboxes.slice(i, i + SWEEP_CHUNK);
      try {
        const present = await this.redis.run((client) => Promise.all(chunk.map((key) => client.exists(key))));
        chunk.forEach((key, j) => present[j] && found.push(key));
      } catch {
        // retried on the next sweep
      }
    }
    return found;
  }

  async range(afterId: string, count: number): Promise<FeedPage> {
    const rows = await this.redis.run((client) => client.xRange(STREAM, `(${afterId}`, '+', { COUNT: count }), STREAM);
    // Paged on the rows read, not on the readable ones: an unreadable entry must not end the backlog early.
    return { entries: fromTyped(rows), last: rows[rows.length - 1]?.id, done: rows.length < count };
  }

  async has(id: string): Promise<boolean> {
    const rows = await this.redis.run((client) => client.xRange(STREAM, id, id), STREAM);
    return rows.length > 0;
  }

  async publishUser(sub: string, notBefore: number): Promise<void> {
    const event: RevocationEvent = { type: 'user', sub, notBefore };
    await this.redis.eval(PUBLISH, [STREAM], [String(this.retentionMs), JSON.stringify(event)]);
  }

  async ready(): Promise<void> {
    if (this.closed || !this.redis.isReady) throw new DependencyUnavailableError('redis');
    if (!this.reading) this.reading = this.read();
    if (!this.up) {
      this.positioned ??= withResolvers();
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new DependencyUnavailableError('redis')), READ_DEADLINE_MS).unref(),
      );
      await Promise.race([this.positioned.promise, timeout]);
    }
  }

  follow(listeners: FeedListeners): boolean {
    if (this.closed || !this.up) return false;
    this.listeners.add(listeners);
    return true;
  }

  /** Stops delivering to `listeners` (its stream ended). */
  unfollow(listeners: FeedListeners): void {
    this.listeners.delete(listeners);
  }

  /**
   * The one blocking reader of this instance, on a connection of its own; its entries are fanned
   * out to every open stream. After an outage it resumes from its own position, so nothing is
   * skipped; streams open during the outage are ended (their clients resume elsewhere or later).
   */
  private async read(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        this.reader ??= await this.redis.dedicatedConnection();
        const reader = this.reader;
        if (this.position === undefined) {
          const last = lastRowId(await deadline(reader.send(STREAM, ['XREVRANGE', STREAM, '+', '-', 'COUNT', '1'])));
          // The id of the last entry, readable or not, so nothing appended after this moment is missed.
          this.position = last ?? '0-0';
        }
        if (!this.up) {
          this.up = true;
          failures = 0;
          this.positioned?.resolve();
          this.positioned = undefined;
        }
        const reply = await deadline(
          reader.send(STREAM, ['XREAD', 'COUNT', String(BATCH), 'BLOCK', String(BLOCK_MS), 'STREAMS', STREAM, this.position]),
        );
        const rows = xreadRows(reply);
        const entries = toEntries(rows).filter((entry) => compareEntryIds(entry.id, this.position!) > 0);
        // Past every row read, readable or not: else unreadable entries are read again at once, forever.
        const lastRow = lastRowId(rows);
        if (lastRow !== undefined && compareEntryIds(lastRow, this.position) > 0) this.position = lastRow;
        if (entries.length) for (const listener of this.listeners) listener.entries(entries);
      } catch (error) {
        if (this.closed) break;
        if (this.up) this.logger.warn(`Revocation feed reader lost Redis: ${(error as Error).message}`);
        this.up = false;
        for (const listener of [...this.listeners]) listener.down();
        this.listeners.clear();
        this.reader?.close();
        this.reader = undefined;
        failures++;
        await sleep(Math.min(100 * 2 ** failures, 1000));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.reader?.close();
    this.reader = undefined;
    this.listeners.clear();
    await this.reading?.catch(() => undefined);
  }
}

/**
 * The feed without Redis (one instance): the same positions and retention, in this process. A
 * restart loses it; a verifier's last position is then unknown and it is told to start over.
 */
export class MemoryRevocationLog implements RevocationLog {
  private readonly entries: FeedEntry[] = [];
  private lastMs = 0;
  private seq = 0;
  private readonly listeners = new Set<FeedListeners>();

  constructor(
    private readonly retentionMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  append(events: RevocationEvent[]): void {
    if (events.length === 0) return;
    const now = this.clock();
    const added: FeedEntry[] = [];
    for (const event of events) {
      if (now > this.lastMs) {
        this.lastMs = now;
        this.seq = 0;
      } else {
        this.seq++;
      }
      added.push({ id: `${this.lastMs}-${this.seq}`, event });
    }
    this.entries.push(...added);
    const oldest = now - this.retentionMs;
    while (this.entries.length && Number(this.entries[0].id.split('-')[0]) < oldest) this.entries.shift();
    for (const listener of this.listeners) listener.entries(added);
  }

  async range(afterId: string, count: number): Promise<FeedPage> {
    const entries = this.entries.filter((entry) => compareEntryIds(entry.id, afterId) > 0).slice(0, count);
    return { entries, last: entries[entries.length - 1]?.id, done: entries.length < count };
  }

  async has(id: string): Promise<boolean> {
    return this.entries.some((entry) => entry.id === id);
  }

  async publishUser(sub: string, notBefore: number): Promise<void> {
    this.append([{ type: 'user', sub, notBefore }]);
  }

  async ready(): Promise<void> {}

  follow(listeners: FeedListeners): boolean {
    this.listeners.add(listeners);
    return true;
  }

  unfollow(listeners: FeedListeners): void {
    this.listeners.delete(listeners);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export const REVOCATION_LOG = Symbol('REVOCATION_LOG');

function withResolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

function deadline<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no reply from Redis')), READ_DEADLINE_MS);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
