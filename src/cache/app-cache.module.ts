import KeyvRedis from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';

/**
 * Nest's cache (cache-manager + Keyv) on Tessera's one Redis client, or in memory without Redis.
 * For plain read-through caching only: sessions and rate limits need atomic scripts instead.
 */
@Module({
  imports: [
    CacheModule.registerAsync({
      isGlobal: true,
      inject: [REDIS],
      useFactory: (redis: RedisService | null) => {
        const store = redis ? new KeyvRedis(redis.client, { throwOnErrors: true }) : undefined;
        // Sentinel unreachable at start-up: the service builds a new client later; follow it.
        if (redis && store) redis.onClientReplaced((client) => (store.client = client));
        // The client is RedisService's (it closes it, bounded, last): cache-manager's own shutdown
        // must not close it first, nor hang on a Sentinel connect that never finishes.
        if (store) store.disconnect = () => Promise.resolve();
        const keyv = store
          ? new Keyv({
              store,
              namespace: 'cache',
              useKeyPrefix: false,
              // Plain JSON: Keyv's default deserializer revives Buffers with a per-key reviver,
              // which `npm run bench` showed as a tenth of a /users/me request; we cache plain objects.
              serialize: JSON.stringify,
              deserialize: JSON.parse,
            })
          : new Keyv();
        // Cache errors are handled by callers (they fall back to the database); never crash on them.
        keyv.on('error', () => undefined);
        return { stores: [keyv] };
      },
    }),
  ],
})
export class AppCacheModule {}
