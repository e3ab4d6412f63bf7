import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MfaModule } from '../auth/mfa/mfa.module.js';
import { UsersModule } from '../users/users.module.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminUsersService } from './admin-users.service.js';
import { AuditEventsController } from './audit-events.controller.js';

/** The admin routes (/admin/users, /admin/audit-events): above users/ and auth/, which never import this. */
@Module({
  imports: [UsersModule, AuthModule, MfaModule],
  controllers: [AdminUsersController, AuditEventsController],
  providers: [AdminUsersService],
})
export class AdminModule {}
