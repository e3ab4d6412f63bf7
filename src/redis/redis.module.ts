import { Global, Inject, Logger, Module, type OnApplicationShutdown, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { storageConfig } from '../config/configuration.js';
import { RedisService } from './redis.service.js';

/** `RedisService` when REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is set, `null` otherwise (the in-memory stores are used then). */
export const REDIS = Symbol('REDIS');

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [storageConfig.KEY],
      useFactory: async (storage: ConfigType<typeof storageConfig>): Promise<RedisService | null> => {
        const logger = new Logger('Redis');
        if (!storage.redisUrl && !storage.redisCluster && !storage.redisSentinel) {
          logger.warn('REDIS_URL is not set: sessions and rate limits live in this process only (single instance only)');
          return null;
        }
        const redis = new RedisService({
          url: storage.redisUrl,
          cluster: storage.redisCluster,
          sentinel: storage.redisSentinel,
          tlsCa: storage.redisTlsCa,
          commandTimeoutMs: storage.redisCommandTimeoutMs,
          waitReplicas: storage.redisWaitReplicas,
        });
        await redis.connect();
        if (redis.isReady) logger.log(`Connected to Redis (${redis.topology})`);
        return redis;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Optional() @Inject(REDIS) private readonly redis: RedisService | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}
