import { Global, Module } from '@nestjs/common';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';
import { MemoryTicketStore, RedisTicketStore, TICKET_STORE } from './ticket-store.js';

/** Short-lived single-use tickets (TicketStore), shared by every instance through Redis; per process only without it. */
@Global()
@Module({
  providers: [
    {
      provide: TICKET_STORE,
      inject: [REDIS],
      useFactory: (redis: RedisService | null) => (redis ? new RedisTicketStore(redis) : new MemoryTicketStore()),
    },
  ],
  exports: [TICKET_STORE],
})
export class TicketsModule {}
