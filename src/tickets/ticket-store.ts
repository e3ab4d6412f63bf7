import { luaScript, type RedisService } from '../redis/redis.service.js';

/** Injection token of the TicketStore (Redis when REDIS_URL is set, else this process's memory). */
export const TICKET_STORE = Symbol('TICKET_STORE');

/**
 * Short-lived, single-use records that every instance must see: the `mfaToken` between a login's
 * two steps, WebAuthn challenges. Keys are chosen by the caller and must not be the secret itself
 * (use an HMAC of it: nothing a client presents is stored in the clear); values are opaque strings.
 */
export interface TicketStore {
  /** Stores `value` under `key` for `ttlSeconds`, replacing any earlier ticket there. */
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** The ticket's value without using it up, or undefined (unknown, expired, used). */
  peek(key: string): Promise<string | undefined>;
  /** Uses the ticket up: its value, or undefined when it was unknown, expired or already taken (by anyone, atomically). */
  take(key: string): Promise<string | undefined>;
}

/** Keys of the form `tk:{<key>}`: the whole ticket lives in one hash, so it sits on one slot of a cluster. */
const redisKey = (key: string): string => `tk:{${key}}`;

/** KEYS: ticket. ARGV: value, ttl seconds. A fresh ticket. */
const PUT = luaScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`);

/** KEYS: ticket. The value, deleting the ticket in the same step: two takers never both get it. */
const TAKE = luaScript(`
local value = redis.call('HGET', KEYS[1], 'v')
if value then redis.call('DEL', KEYS[1]) end
return value
`);

export class RedisTicketStore implements TicketStore {
  constructor(private readonly redis: RedisService) {}

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.eval(PUT, [redisKey(key)], [value, String(ttlSeconds)]);
  }

  async peek(key: string): Promise<string | undefined> {
    const value = await this.redis.run((client) => client.hGet(redisKey(key), 'v'), redisKey(key));
    return value ?? undefined;
  }

  async take(key: string): Promise<string | undefined> {
    const value = (await this.redis.eval(TAKE, [redisKey(key)], [])) as string | null;
    return value ?? undefined;
  }
}

/** Per-process tickets for a single instance without Redis. */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: () => number = Date.now) {
    this.sweeper = setInterval(() => {
      const now = this.clock();
      for (const [key, ticket] of this.tickets) if (ticket.expiresAt <= now) this.tickets.delete(key);
    }, 60_000);
    this.sweeper.unref();
  }

  private live(key: string) {
    const ticket = this.tickets.get(key);
    if (ticket && ticket.expiresAt > this.clock()) return ticket;
    this.tickets.delete(key);
    return undefined;
  }

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.tickets.set(key, { value, expiresAt: this.clock() + ttlSeconds * 1000 });
  }

  async peek(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async take(key: string): Promise<string | undefined> {
    const ticket = this.live(key);
    this.tickets.delete(key);
    return ticket?.value;
  }
}
