import { Injectable } from '@nestjs/common';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { PasswordService } from '../auth/passwords/password.service.js';
import { normaliseEmail } from '../common/email.js';
import { Problems } from '../common/problems/problem.js';
import type { Database } from '../database/database.js';
import type { LinkTokenRow } from '../database/schema.js';
import { MailService } from '../mail/mail.service.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { type AccountRequest, AccountLinks } from './account-links.js';
import { LinkMailer } from './link-mailer.js';
import { LinkTokensRepository } from './link-tokens.repository.js';

/** Moving an account to another address: asked for with the password, done by a link sent there. */
@Injectable()
export class EmailChangeService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly links: LinkTokensRepository,
    private readonly accountLinks: AccountLinks,
    private readonly mail: MailService,
    private readonly linkMailer: LinkMailer,
    private readonly events: SecurityEventsService,
  ) {}

  /**
   * POST /auth/email/change. The current password first (400 naming `currentPassword`, like a
   * password change), so nothing below answers someone holding only an access token. Then the new
   * address must differ (400), be free (409 `email_taken`) and within its mail allowance (429). A confirmation link goes to the new
   * address (it is the link's bound address) and a notice to the old one, in one transaction; the
   * address changes only when the link is used.
   */
  async request(
    principal: { id: string; sessionId: string },
    newEmailRaw: string,
    currentPassword: string,
    request: AccountRequest,
  ): Promise<void> {
    const storedHash = await this.users.findPasswordHash(principal.id);
    if (!(await this.passwords.verify(storedHash, currentPassword))) {
      await this.events.record({
        type: 'email.changed',
        outcome: 'failure',
        userId: principal.id,
        sessionId: principal.sessionId,
        details: { stage: 'requested', reason: 'wrong_current_password' },
        context: request,
      });
      throw Problems.validation([{ field: 'currentPassword', message: 'currentPassword is incorrect' }]);
    }
    const user = await this.users.findFresh(principal.id);
    if (!user) throw Problems.sessionRevoked();
    const newEmail = normaliseEmail(newEmailRaw);
    if (newEmail === user.email) throw Problems.validation([{ field: 'newEmail', message: 'newEmail must differ from the current email' }]);
    // Tells the (authenticated, password-proven) caller that the address has an account: see docs/api.md.
    if (await this.users.findByEmail(newEmail)) throw Problems.emailTaken();
    // The new address has proven nothing yet: its confirmations count against the same per-address
    // allowance as verification mails, across accounts, so accounts cannot be used to mail an
    // address without limit. The caller is authenticated, so a plain 429 gives nothing away.
    if (!(await this.accountLinks.withinCap('change', newEmail))) throw Problems.rateLimited(this.accountLinks.capWindowSeconds);
    await this.users.transaction((tx) => this.queue(user, newEmail, request, tx));
    await this.events.record({
      type: 'email.changed',
      userId: user.id,
      sessionId: principal.sessionId,
      details: { stage: 'requested' },
      context: request,
    });
  }

  private async queue(user: User, newEmail: string, request: AccountRequest, tx: Database): Promise<void> {
    await this.linkMailer.send(this.linkMailer.kinds.change, user, newEmail, request, tx, { newEmail });
    await this.mail.send({ to: user.email, template: 'email-changed', variables: { email: user.email, newEmail } }, tx);
  }

  /**
   * Inside the verify transaction, with the change link already taken: the account moves to the
   * link's address, now verified, and every other link of the user dies (they were sent to, or
   * bound to, the old address). 409 `email_taken` when another account took the address meanwhile:
   * the transaction rolls back, so the link is not used up and works again if the address is freed.
   */
  async complete(row: LinkTokenRow, tx: Database): Promise<User> {
    const user = await this.users.findInTransaction(row.userId, tx);
    if (!user || user.disabled) throw Problems.linkInvalid();
    const changed = await this.users.changeEmail(row.userId, row.email, tx);
    if (!changed) throw Problems.linkInvalid();
    await this.links.deleteForUser(row.userId, tx);
    return changed;
  }
}
