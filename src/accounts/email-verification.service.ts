import { Injectable } from '@nestjs/common';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import type { Database } from '../database/database.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { DeferredWork } from './deferred-work.js';
import { type AccountRequest, AccountLinks } from './account-links.js';
import { LinkMailer } from './link-mailer.js';
import { EmailChangeService } from './email-change.service.js';
import { LinkTokenCodec } from './link-token.js';
import { LinkTokensRepository } from './link-tokens.repository.js';

/** Links POST /auth/email/verify accepts: a verification, or the confirmation of an email change. */
const VERIFY_PURPOSES = ['verify_email', 'change_email'] as const;

/** Proving an address: the verification mail, asking for a new one, and using a link. */
@Injectable()
export class EmailVerificationService {
  constructor(
    private readonly users: UsersService,
    private readonly links: LinkTokensRepository,
    private readonly codec: LinkTokenCodec,
    private readonly accountLinks: AccountLinks,
    private readonly linkMailer: LinkMailer,
    private readonly emailChange: EmailChangeService,
    private readonly events: SecurityEventsService,
    private readonly deferred: DeferredWork,
  ) {}

  /**
   * Within the caller's transaction: a new verification link for the user's current address
   * (replacing any earlier one) and its mail, queued with the transaction.
   */
  async queue(user: User, request: AccountRequest, executor: Database): Promise<void> {
    await this.linkMailer.send(this.linkMailer.kinds.verify, user, user.email, request, executor);
  }

  /** Records email.verification_sent (after the mail's transaction committed). */
  recordSent(user: User, request: AccountRequest): Promise<void> {
    return this.events.record({ type: 'email.verification_sent', userId: user.id, context: request });
  }

  /**
   * POST /auth/email/verification with a Bearer token: a new link for the caller, unless the
   * address is verified already or the per-account cap is reached (then nothing happens; 202 alike).
   */
  async requestForUser(userId: string, request: AccountRequest): Promise<void> {
    const user = await this.users.findFresh(userId);
    if (!user || !(await this.accountLinks.withinCap('verify', user.email))) return;
    if (user.disabled || user.emailVerified) return;
    await this.sendNew(user, request);
  }

  /**
   * POST /auth/email/verification with `{email}`: the same lookup and the same cap count whatever
   * the address; the link and its mail are made 1 to 3 s later (DeferredWork), for an existing,
   * enabled, unverified account only, so the answer neither waits for nor reveals them.
   */
  async requestForEmail(email: string, request: AccountRequest): Promise<void> {
    const user = await this.users.findByEmail(email);
    const allowed = await this.accountLinks.withinCap('verify', email);
    if (!user || !allowed || user.disabled || user.emailVerified) return;
    this.deferred.later(`Verification mail for user ${user.id}`, () => this.sendNew(user, request));
  }

  private async sendNew(user: User, request: AccountRequest): Promise<void> {
    await this.users.transaction((tx) => this.queue(user, request, tx));
    await this.recordSent(user, request);
  }

  /**
   * POST /auth/email/verify: uses the link up and applies it, in one transaction. A verification
   * marks the address verified while it is still the one the link was sent to; a change
   * confirmation moves the account to the new address (EmailChangeService). Unknown, used,
   * expired and replaced links, and those of a disabled account, are 400 `link_invalid`.
   */
  async verify(token: string, request: AccountRequest): Promise<void> {
    const hashes = this.codec.candidates(token, VERIFY_PURPOSES);
    const outcome = await this.users.transaction(async (tx) => {
      const row = await this.links.take(hashes, VERIFY_PURPOSES, tx);
      if (!row) throw Problems.linkInvalid();
      if (row.purpose === 'change_email') return { kind: 'changed' as const, user: await this.emailChange.complete(row, tx) };
      const user = await this.users.findInTransaction(row.userId, tx);
      if (!user || user.disabled) throw Problems.linkInvalid();
      const verified = await this.users.markEmailVerified(row.userId, row.email, tx);
      // The address changed since the link was sent: it proves nothing about the new one.
      if (!verified) throw Problems.linkInvalid();
      return { kind: 'verified' as const, user: verified };
    });
    await this.users.forget(outcome.user.id);
    if (outcome.kind === 'changed') {
      await this.events.record({ type: 'email.changed', userId: outcome.user.id, details: { stage: 'completed' }, context: request });
    } else {
      await this.events.record({ type: 'email.verified', userId: outcome.user.id, context: request });
    }
  }
}
