import { Module } from '@nestjs/common';
import { PasswordsModule } from '../auth/passwords/passwords.module.js';
import { SessionsModule } from '../auth/sessions/sessions.module.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminUsersService } from './admin-users.service.js';
import { UsersController } from './users.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [PasswordsModule, SessionsModule],
  controllers: [UsersController, AdminUsersController],
  providers: [UsersRepository, UsersService, AdminUsersService],
  exports: [UsersService],
})
export class UsersModule {}
