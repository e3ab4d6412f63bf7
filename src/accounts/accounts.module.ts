import { Module } from '@nestjs/common';
import { PasswordsModule } from '../auth/passwords/passwords.module.js';
import { SessionsModule } from '../auth/sessions/sessions.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountLinks } from './account-links.js';
import { AccountsController } from './accounts.controller.js';
import { AccountsService } from './accounts.service.js';
import { DeferredWork } from './deferred-work.js';
import { EmailChangeService } from './email-change.service.js';
import { EmailVerificationService } from './email-verification.service.js';
import { LinkMailer } from './link-mailer.js';
import { LinkTokenCodec } from './link-token.js';
import { LinkTokensRepository } from './link-tokens.repository.js';
import { PasswordResetService } from './password-reset.service.js';

/**
 * The account lifecycle (registration, verified addresses, password resets, email changes): above
 * users/ and auth/, whose inner rooms (passwords/, sessions/, decorators) it uses; neither imports it.
 */
@Module({
  imports: [UsersModule, PasswordsModule, SessionsModule],
  controllers: [AccountsController],
  providers: [
    AccountsService,
    EmailVerificationService,
    PasswordResetService,
    EmailChangeService,
    AccountLinks,
    DeferredWork,
    LinkTokenCodec,
    LinkMailer,
    LinkTokensRepository,
  ],
})
export class AccountsModule {}
