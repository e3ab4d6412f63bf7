import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import { within } from '../common/deadline.js';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';

export interface LuaScript {
  source: string;
  sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
  /** Entries of the client-side cache (RESP3 tracking); 0 turns it off. */
  clientCacheEntries?: number;
}

/** A heartbeat every half second; no answer for this long means Redis is treated as down. */
const HEARTBEAT_MS = 500;
const HEARTBEAT_STALE_MS = 2000;
/** Time kept for a reply to travel back and be noticed before the caller's deadline (the sweeper ticks every 25 ms). */
const DEADLINE_REPLY_MARGIN_MS = 75;

/**
 * Tessera's one Redis connection (node-redis), shared by the session store, the rate limits, the
 * cache and health checks.
 *
 * - Client-side caching (RESP3 tracking): reads such as the per-request `EXISTS` on a session are
 *   answered from memory, and Redis pushes an invalidation the moment any instance changes the
 *   key; so a live session costs no round trip, and a revocation still lands at once everywhere.
 *   node-redis drops the whole cache when the connection errors or closes.
 * - Fail closed: every call is bounded by `commandTimeoutMs` (node-redis only times out commands
 *   not yet written, and a frozen server never answers written ones), and a heartbeat marks Redis
 *   down when it stops answering, so nothing is served from memory while Redis cannot be heard.
 *   Failures surface as DependencyUnavailableError (503).
 */
export class RedisService {
  readonly client: RedisClientType;
  private readonly logger = new Logger('Redis');
  private connected = false;
  private warnedDown = false;
  /** When the unanswered heartbeat ping was sent (undefined: none outstanding). */
  private heartbeatSentAt: number | undefined;
  /** Recent estimates of Redis's clock minus ours (from TIME), with their uncertainty (half the round trip). */
  private readonly clockSamples: { offsetMs: number; uncertaintyMs: number }[] = [];
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly options: RedisOptions) {
    const cacheEntries = options.clientCacheEntries ?? 100_000;
    this.client = createClient({
      url: options.url,
      RESP: 3,
      ...(cacheEntries > 0 ? { clientSideCache: { maxEntries: cacheEntries, evictPolicy: 'LRU' as const, recordStats: false } } : {}),
      // Commands fail at once while disconnected instead of queueing: fail closed, fast.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 2000,
        // No byte for this long (the heartbeat keeps the socket busy): the connection is replaced.
        socketTimeout: Math.max(5000, options.commandTimeoutMs * 3),
        // Capped exponential backoff with jitter: recovers within seconds, no reconnect storm.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 100),
      },
    }) as unknown as RedisClientType;
    this.client.on('error', (error: Error) => this.markDown(error.message));
    this.client.on('ready', () => {
      if (this.warnedDown) this.logger.log('Redis connection restored');
      this.connected = true;
      this.warnedDown = false;
      this.heartbeatSentAt = undefined;
    });
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * One ping at a time; staleness is measured from when it was *sent*, so a busy event loop here
   * (which delays sending) is not mistaken for a silent Redis.
   */
  private beat(): void {
    if (!this.client.isReady) return;
    if (this.heartbeatSentAt !== undefined) {
      if (this.connected && Date.now() - this.heartbeatSentAt > HEARTBEAT_STALE_MS) this.markDown('no answer to the heartbeat');
      return;
    }
    const sentAt = (this.heartbeatSentAt = Date.now());
    // TIME rather than PING: the same liveness signal, plus a sample of Redis's clock (see serverDeadline).
    this.client.time().then(
      (reply) => {
        this.sampleClock(sentAt, Date.now(), reply as unknown as [string, string]);
        this.heartbeatSentAt = undefined;
        if (!this.connected && this.client.isReady) {
          this.connected = true;
          if (this.warnedDown) this.logger.log('Redis answers again');
          this.warnedDown = false;
        }
      },
      () => {
        this.heartbeatSentAt = undefined;
      },
    );
  }

  private sampleClock(sentAt: number, receivedAt: number, [seconds, micros]: [string, string]): void {
    const serverMs = Number(seconds) * 1000 + Number(micros) / 1000;
    this.clockSamples.push({ offsetMs: serverMs - (sentAt + receivedAt) / 2, uncertaintyMs: (receivedAt - sentAt) / 2 });
    if (this.clockSamples.length > 20) this.clockSamples.shift();
  }

  /**
   * The latest moment, on Redis's own clock (ms), at which a write sent now may still commit: a bit
   * before this call's deadline runs out here. A script that finds itself past it refuses to commit,
   * so a call answered 503 for slowness never lands afterwards (ROTATE_SESSION). The estimate of the
   * two clocks' offset with the smallest round trip is used, minus its uncertainty and a margin for
   * the reply's way back.
   */
  serverDeadline(now = Date.now()): number {
    const best = this.clockSamples.reduce<{ offsetMs: number; uncertaintyMs: number } | undefined>(
      (a, b) => (a === undefined || b.uncertaintyMs < a.uncertaintyMs ? b : a),
      undefined,
    ) ?? { offsetMs: 0, uncertaintyMs: 0 };
    return Math.floor(now + this.options.commandTimeoutMs + best.offsetMs - best.uncertaintyMs - DEADLINE_REPLY_MARGIN_MS);
  }

  /** Logged once per outage, however many errors the outage produces. Nothing cached is trusted after it. */
  private markDown(reason: string): void {
    this.client.clientSideCache?.clear();
    if (!this.warnedDown) this.logger.warn(`Redis unavailable (${reason}); failing closed until it returns`);
    this.warnedDown = true;
    this.connected = false;
  }

  /** Connects, waiting at most a few seconds: a Redis down at start-up means 503s, not a crash. */
  async connect(): Promise<void> {
    const connecting = this.client.connect().catch(() => undefined);
    await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    if (this.client.isReady) {
      const sentAt = Date.now();
      await this.client.time().then(
        (reply) => this.sampleClock(sentAt, Date.now(), reply as unknown as [string, string]),
        () => undefined,
      );
    }
  }

  /** Connected and answering the heartbeat. */
  get isReady(): boolean {
    const waiting = this.heartbeatSentAt === undefined ? 0 : Date.now() - this.heartbeatSentAt;
    return this.connected && this.client.isReady && waiting <= HEARTBEAT_STALE_MS;
  }

  /** Runs one Redis operation under the deadline, mapping connection failures to 503. */
  async run<T>(operation: (client: RedisClientType) => Promise<T>): Promise<T> {
    if (!this.isReady) throw new DependencyUnavailableError('redis');
    try {
      return await within(operation(this.client), this.options.commandTimeoutMs, () => {
        throw new DependencyUnavailableError('redis');
      });
    } catch (error) {
      // A reply error is a bug in a script or command, not an outage: let it surface as such.
      if (
        error instanceof ErrorReply &&
        !error.message.startsWith('NOSCRIPT') &&
        !/^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOPERM)/.test(error.message)
      ) {
        throw error;
      }
      if (error instanceof DependencyUnavailableError) throw error;
      throw new DependencyUnavailableError('redis', error);
    }
  }

  /** EVALSHA, loading the script on first use (or after a Redis restart flushed the cache). */
  async eval(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return this.run(async (client) => {
      try {
        return await client.evalSha(script.sha, { keys, arguments: args });
      } catch (error) {
        if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) {
          return client.eval(script.source, { keys, arguments: args });
        }
        throw error;
      }
    });
  }

  async ping(): Promise<void> {
    await this.run((client) => client.ping());
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.client.isOpen) {
      await this.client.close().catch(() => this.client.destroy());
    }
  }
}
