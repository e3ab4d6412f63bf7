import { Injectable } from '@nestjs/common';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { PasswordPolicy } from '../auth/passwords/password-policy.js';
import { PasswordService } from '../auth/passwords/password.service.js';
import { SessionService } from '../auth/sessions/session.service.js';
import { Problems } from '../common/problems/problem.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { DeferredWork } from './deferred-work.js';
import { type AccountRequest, AccountLinks } from './account-links.js';
import { LinkMailer } from './link-mailer.js';
import { LinkTokenCodec } from './link-token.js';
import { LinkTokensRepository } from './link-tokens.repository.js';

const RESET = ['reset_password'] as const;

/** Forgotten passwords: a link to the account's address, and a new password through it. */
@Injectable()
export class PasswordResetService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
    private readonly sessions: SessionService,
    private readonly links: LinkTokensRepository,
    private readonly codec: LinkTokenCodec,
    private readonly accountLinks: AccountLinks,
    private readonly linkMailer: LinkMailer,
    private readonly events: SecurityEventsService,
    private readonly deferred: DeferredWork,
  ) {}

  /**
   * POST /auth/password/forgot. Every address costs the same lookup and the same cap count; only
   * then, for an existing and enabled account within its cap, the link and its mail are made 1 to 3 s
   * later (DeferredWork). The caller gets the same 202 at about the same time either way, and the
   * next request it sends is not slowed by work only a real account causes.
   */
  async forgot(email: string, request: AccountRequest): Promise<void> {
    const user = await this.users.findByEmail(email);
    const allowed = await this.accountLinks.withinCap('reset', email);
    if (!user || user.disabled || !allowed) return;
    this.deferred.later(`Reset mail for user ${user.id}`, () => this.sendLink(user, request));
  }

  private async sendLink(user: User, request: AccountRequest): Promise<void> {
    await this.users.transaction((tx) => this.linkMailer.send(this.linkMailer.kinds.reset, user, user.email, request, tx));
    await this.events.record({ type: 'password.reset_requested', userId: user.id, context: request });
  }

  /**
   * POST /auth/password/reset. The link is checked (live, its account enabled and still at the
   * address it was sent to) and the new password judged *before* the link is used, so a refused
   * password leaves it working. Then, in one transaction: the link is taken (exactly one of two
   * racing requests gets it), the hash stored, the address marked verified (the link proved the
   * mailbox) and every other link of the user deleted. Every session of the user ends.
   */
  async reset(token: string, newPassword: string, request: AccountRequest): Promise<void> {
    const hashes = this.codec.candidates(token, RESET);
    const row = await this.links.find(hashes, RESET);
    if (!row) throw Problems.linkInvalid();
    const user = await this.users.findFresh(row.userId);
    if (!user || user.disabled || user.email !== row.email) throw Problems.linkInvalid();
    this.policy.check(newPassword, { email: user.email, field: 'newPassword' });
    // Hashed outside the transaction (admission may answer 503; the link stays usable then).
    const passwordHash = await this.passwords.hash(newPassword);
    const changed = await this.users.transaction(async (tx) => {
      const taken = await this.links.take(hashes, RESET, tx);
      if (!taken) throw Problems.linkInvalid();
      const updated = await this.users.resetPasswordHash(taken.userId, passwordHash, taken.email, tx);
      if (!updated) throw Problems.linkInvalid();
      await this.links.deleteForUser(taken.userId, tx);
      return updated;
    });
    await this.users.forget(changed.id);
    await this.events.record({ type: 'password.reset', userId: changed.id, context: request });
    const count = await this.sessions.revokeAll(changed.id);
    await this.events.record({
      type: 'sessions.revoked_all',
      userId: changed.id,
      details: { reason: 'password_reset', count },
      context: request,
    });
  }
}
