import { Global, Module } from '@nestjs/common';
import { ActivityController, AuditEventsController } from './audit-events.controller.js';
import { SecurityEventsRepository } from './security-events.repository.js';
import { SecurityEventsService } from './security-events.service.js';

/**
 * Security events (ASVS V16). Global: any module records through SecurityEventsService without
 * importing this one. The repository is a provider of its own so tests can swap the store.
 */
@Global()
@Module({
  controllers: [AuditEventsController, ActivityController],
  providers: [SecurityEventsRepository, SecurityEventsService],
  exports: [SecurityEventsService],
})
export class AuditModule {}
