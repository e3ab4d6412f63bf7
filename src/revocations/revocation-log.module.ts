import { type BeforeApplicationShutdown, Global, Inject, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig } from '../config/configuration.js';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';
import { retentionMs } from './revocation-event.js';
import { MemoryRevocationLog, REVOCATION_LOG, RedisRevocationLog, type RevocationLog } from './revocation-log.js';

/** The revocation feed's storage, shared by the session store (writes) and the feed (reads). */
@Global()
@Module({
  providers: [
    {
      provide: REVOCATION_LOG,
      inject: [REDIS, authConfig.KEY],
      useFactory: (redis: RedisService | null, auth: ConfigType<typeof authConfig>): RevocationLog => {
        const keep = retentionMs(auth.accessTokenTtl, auth.clockToleranceSeconds);
        return redis ? new RedisRevocationLog(redis, keep) : new MemoryRevocationLog(keep);
      },
    },
  ],
  exports: [REVOCATION_LOG],
})
export class RevocationLogModule implements BeforeApplicationShutdown {
  constructor(@Inject(REVOCATION_LOG) private readonly log: RevocationLog) {}

  /** Before the HTTP server closes (it waits for open streams) and before Redis's shared connection goes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.log.close();
  }
}
