import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import { DependencyUnavailableError } from '../common/dependency-error.js';

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
}

/**
 * Tessera's one Redis connection (node-redis), shared by the session store, the throttler
 * storage, the cache and health checks. Every call is bounded by `commandTimeoutMs`: node-redis
 * only times out commands not yet written, and a frozen server (SIGSTOP) never answers written
 * ones, so the deadline is enforced here. Failures surface as DependencyUnavailableError (503).
 */
export class RedisService {
  readonly client: RedisClientType;
  private readonly logger = new Logger('Redis');
  private healthy = false;
  private warnedDown = false;

  constructor(private readonly options: RedisOptions) {
    this.client = createClient({
      url: options.url,
      // Commands fail at once while disconnected instead of queueing: fail closed, fast.
      disableOfflineQueue: true,
      // Keeps traffic on the socket so a frozen server is noticed by socketTimeout below.
      pingInterval: 1000,
      socket: {
        connectTimeout: 2000,
        socketTimeout: Math.max(3000, options.commandTimeoutMs * 3),
        // Capped exponential backoff with jitter: recovers within seconds, no reconnect storm.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 100),
      },
    }) as RedisClientType;
    this.client.on('error', (error: Error) => {
      if (this.healthy || !this.warnedDown) {
        this.logger.warn(`Redis unavailable (${error.message}); failing closed until it returns`);
        this.warnedDown = true;
      }
      this.healthy = false;
    });
    this.client.on('ready', () => {
      if (this.warnedDown) this.logger.log('Redis connection restored');
      this.healthy = true;
      this.warnedDown = false;
    });
  }

  /** Connects, waiting at most a few seconds: a Redis down at start-up means 503s, not a crash. */
  async connect(): Promise<void> {
    const connecting = this.client.connect().catch(() => undefined);
    await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  /** Runs one Redis operation under the deadline, mapping connection failures to 503. */
  async run<T>(operation: (client: RedisClientType) => Promise<T>): Promise<T> {
    if (!this.client.isReady) throw new DependencyUnavailableError('redis');
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        operation(this.client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DependencyUnavailableError('redis')), this.options.commandTimeoutMs);
        }),
      ]);
    } catch (error) {
      // A reply error is a bug in a script or command, not an outage: let it surface as such.
      if (error instanceof ErrorReply && !error.message.startsWith('NOSCRIPT') && !/^(LOADING|BUSY|MASTERDOWN|READONLY)/.test(error.message)) {
        throw error;
      }
      if (error instanceof DependencyUnavailableError) throw error;
      throw new DependencyUnavailableError('redis', error);
    } finally {
      clearTimeout(timer);
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
    if (this.client.isOpen) {
      await this.client.close().catch(() => this.client.destroy());
    }
  }
}
