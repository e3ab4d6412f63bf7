import { Global, Module } from '@nestjs/common';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';
import { RateLimiter, RateLimitGuard } from './rate-limit.js';
import { MemoryRateLimitStore, RATE_LIMIT_STORE, RedisRateLimitStore } from './rate-limit-store.js';

@Global()
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [REDIS],
      // Shared by every instance through Redis; per process only without it.
      useFactory: (redis: RedisService | null) => (redis ? new RedisRateLimitStore(redis) : new MemoryRateLimitStore()),
    },
    RateLimitGuard,
    RateLimiter,
  ],
  exports: [RATE_LIMIT_STORE, RateLimitGuard, RateLimiter],
})
export class ThrottlingModule {}
