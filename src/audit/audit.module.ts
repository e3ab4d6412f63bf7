import { Global, Module } from '@nestjs/common';
import { SecurityEventsRepository } from './security-events.repository.js';
import { SecurityEventsService } from './security-events.service.js';

/**
 * Security events (ASVS V16); their routes are admin/'s (/admin/audit-events) and auth/'s (/auth/activity). Global: any module records through SecurityEventsService without
 * importing this one. The repository is a provider of its own so tests can swap the store.
 */
@Global()
@Module({
  providers: [SecurityEventsRepository, SecurityEventsService],
  exports: [SecurityEventsService],
})
export class AuditModule {}
