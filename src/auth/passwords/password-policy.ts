import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Problems } from '../../common/problems/problem.js';
import { accountsConfig } from '../../config/configuration.js';

/** What a password is judged against besides itself: the account's address, and which body field it came in. */
export interface PasswordContext {
  /** The account's (normalised) email, whose address and local part may not appear in the password. */
  email?: string;
  /** The body field named in the 400 `weak_password` (`password`, `newPassword`). */
  field: string;
}

/**
 * The one place that decides whether a new password is acceptable (NIST SP 800-63B-4): register,
 * change, reset and the bootstrap admin all ask it. FIRST CUT: length only (the full policy lands
 * with the passwords work).
 */
@Injectable()
export class PasswordPolicy {
  constructor(@Inject(accountsConfig.KEY) private readonly accounts: ConfigType<typeof accountsConfig>) {}

  /** Throws 400 `weak_password` naming `context.field` when the password is refused. */
  check(password: string, context: PasswordContext): void {
    if ([...password.normalize('NFKC')].length < this.accounts.passwordMinLength) {
      throw Problems.weakPassword(context.field, `must be at least ${this.accounts.passwordMinLength} characters`);
    }
  }
}
