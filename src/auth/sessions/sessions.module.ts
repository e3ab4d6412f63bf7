import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig } from '../../config/configuration.js';
import { REVOCATION_LOG, type RevocationLog, sessionUntil } from '../../revocations/revocation-log.js';
import { MemoryRevocationLog, RedisRevocationLog } from '../../revocations/revocation-log.js';
import { REDIS } from '../../redis/redis.module.js';
import type { RedisService } from '../../redis/redis.service.js';
import { MemorySessionStore } from './memory-session.store.js';
import { RedisSessionStore } from './redis-session.store.js';
import { SESSION_STORE, type SessionStore } from './session-store.js';
import { SessionService } from './session.service.js';

@Module({
  providers: [
    {
      provide: SESSION_STORE,
      inject: [REDIS, REVOCATION_LOG, authConfig.KEY],
      useFactory: (redis: RedisService | null, log: RevocationLog, auth: ConfigType<typeof authConfig>): SessionStore => {
        // Every session that ends (other than by expiry) becomes a revocation event; `until` bounds its tokens.
        const until = (now: number, absoluteExpiresAt = Infinity) =>
          sessionUntil(now, absoluteExpiresAt, auth.accessTokenTtl, auth.clockToleranceSeconds);
        if (redis && log instanceof RedisRevocationLog)
          return new RedisSessionStore(redis, log, (now) => until(now), auth.clockToleranceSeconds);
        const memory = log as MemoryRevocationLog;
        return new MemorySessionStore(Date.now, (sub, ended) =>
          memory.append(ended.map((s) => ({ type: 'session', sid: s.id, sub, until: until(Date.now(), s.absoluteExpiresAt) }))),
        );
      },
    },
    SessionService,
  ],
  exports: [SessionService, SESSION_STORE],
})
export class SessionsModule {}
