import { luaScript, type RedisService } from '../redis/redis.service.js';

export interface RateLimitHit {
  /** Attempts counted in the current window, this one included. */
  hits: number;
  /** Milliseconds until the window (and any block) ends. */
  resetMs: number;
}

/** Counts attempts per key in fixed windows. */
export interface RateLimitStore {
  hit(key: string, windowMs: number): Promise<RateLimitHit>;
  /** The current window's count without adding to it (0 when there is none). */
  peek(key: string): Promise<RateLimitHit>;
  /** Takes back one hit of the current window (never below zero). */
  release(key: string): Promise<void>;
  /** Forgets the window (a count that a success ends, such as consecutive failures). */
  reset(key: string): Promise<void>;
}

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');

/** KEYS: counter. ARGV: windowMs. INCR and the window's expiry in one step, shared by every instance. */
const HIT = luaScript(`
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {hits, redis.call('PTTL', KEYS[1])}
`);

/** KEYS: counter. The count and the window's remaining time, unchanged. */
const PEEK = luaScript(`
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}
`);

/** KEYS: counter. DECR while positive: a reserved attempt handed back. */
const RELEASE = luaScript(`
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
`);

export class RedisRateLimitStore implements RateLimitStore {
  constructor(private readonly redis: RedisService) {}

  async hit(key: string, windowMs: number): Promise<RateLimitHit> {
    const [hits, resetMs] = (await this.redis.eval(HIT, [`rl:{${key}}`], [String(windowMs)])) as number[];
    return { hits, resetMs: Math.max(0, resetMs) };
  }

  async peek(key: string): Promise<RateLimitHit> {
    const [hits, resetMs] = (await this.redis.eval(PEEK, [`rl:{${key}}`], [])) as number[];
    return { hits, resetMs: Math.max(0, resetMs) };
  }

  async release(key: string): Promise<void> {
    await this.redis.eval(RELEASE, [`rl:{${key}}`], []);
  }

  async reset(key: string): Promise<void> {
    await this.redis.run((client) => client.del(`rl:{${key}}`), `rl:{${key}}`);
  }
}

/** Per-process counters for a single instance without Redis. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: () => number = Date.now) {
    this.sweeper = setInterval(() => {
      const now = this.clock();
      for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    }, 60_000);
    this.sweeper.unref();
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async hit(key: string, windowMs: number): Promise<RateLimitHit> {
    const now = this.clock();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { hits: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.hits++;
    return { hits: window.hits, resetMs: window.resetAt - now };
  }

  async release(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.hits > 0) window.hits--;
  }

  async peek(key: string): Promise<RateLimitHit> {
    const now = this.clock();
    const window = this.windows.get(key);
    return !window || window.resetAt <= now ? { hits: 0, resetMs: 0 } : { hits: window.hits, resetMs: window.resetAt - now };
  }
}
