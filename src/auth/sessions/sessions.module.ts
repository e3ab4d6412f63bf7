import { Module } from '@nestjs/common';
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
      inject: [REDIS],
      useFactory: (redis: RedisService | null): SessionStore => (redis ? new RedisSessionStore(redis) : new MemorySessionStore()),
    },
    SessionService,
  ],
  exports: [SessionService, SESSION_STORE],
})
export class SessionsModule {}
