import { Injectable } from '@nestjs/common';
import { PasswordPolicy } from '../auth/passwords/password-policy.js';
import { PasswordService } from '../auth/passwords/password.service.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { type AccountRequest, AccountLinks } from './account-links.js';
import { EmailVerificationService } from './email-verification.service.js';

/** Creating accounts: the first step of the lifecycle. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
    private readonly verification: EmailVerificationService,
    private readonly accountLinks: AccountLinks,
  ) {}

  /**
   * The password policy first (400 `weak_password`, before any argon2 work), then the hash
   * (admitted by PasswordService, 503 when too busy), then, in one
   * transaction, creates the account (409 `email_taken`), its verification link and the queued
   * mail: the account never exists without its link, nor the mail without the account.
   */
  async register(email: string, password: string, request: AccountRequest): Promise<User> {
    this.policy.check(password, { email, field: 'password' });
    const passwordHash = await this.passwords.hash(password);
    const { user, mailed } = await this.users.transaction(async (tx) => {
      const user = await this.users.create(email, passwordHash, tx);
      // Counted once the address is known to be new, so failed registrations do not use up its allowance.
      const mailed = await this.accountLinks.withinCap('verify', user.email);
      if (mailed) await this.verification.queue(user, request, tx);
      return { user, mailed };
    });
    if (mailed) await this.verification.recordSent(user, request);
    return user;
  }
}
