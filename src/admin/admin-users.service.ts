import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { SecondFactorCheck } from '../auth/second-factor-check.js';
import { SecondFactors } from '../auth/second-factors.service.js';
import { SessionService } from '../auth/sessions/session.service.js';
import { rolesNotBefore, type User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { REVOCATION_LOG, type RevocationLog } from '../revocations/revocation-log.js';

/** Admin actions that reach across users and sessions; each is a security event with the admin as actor. */
@Injectable()
export class AdminUsersService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionService,
    private readonly events: SecurityEventsService,
    private readonly factors: SecondFactors,
    private readonly codeCheck: SecondFactorCheck,
    @Inject(REVOCATION_LOG) private readonly revocations: RevocationLog,
  ) {}

  get(id: string): Promise<User> {
    return this.users.getById(id);
  }

  /**
   * Disabling ends every session of the user at once, and its pending resets and email changes (after
   * the record says disabled, so a retry is safe).
   * New roles: a `user` event on the revocation feed, so services that verify tokens themselves
   * refuse the user's tokens minted with the old roles (iat < notBefore); the client's next refresh
   * gets the new ones. notBefore is the second after the record's `rolesChangedAt` (set by the same
   * UPDATE), which is what token minting compares against (docs/api.md, "Role changes"). Published
   * after the change is committed and the cached user dropped; if publishing fails the request
   * fails (503) and the admin's retry publishes it.
   */
  async update(id: string, changes: { disabled?: boolean; roles?: string[] }, context: RequestContext): Promise<User> {
    const user = await this.users.update(id, changes);
    if (changes.roles !== undefined) await this.revocations.publishUser(id, rolesNotBefore(user));
    await this.events.record({ type: 'user.updated', userId: id, details: { disabled: changes.disabled, roles: changes.roles }, context });
    if (changes.disabled) {
      await this.users.cancelPendingLinks(id);
      const count = await this.sessions.revokeAll(id);
      await this.events.record({ type: 'sessions.revoked_all', userId: id, details: { reason: 'disabled', count }, context });
    }
    return user;
  }

  /** Ends every session, and the password resets and email changes pending from them. */
  async endAllSessions(id: string, context: RequestContext): Promise<void> {
    await this.users.getById(id);
    await this.users.cancelPendingLinks(id);
    const count = await this.sessions.revokeAll(id);
    await this.events.record({ type: 'sessions.revoked_all', userId: id, details: { reason: 'admin', count }, context });
  }

  /**
   * A lost phone: removes every second factor of the user (TOTP, recovery codes), then ends their
   * sessions and pending links, as a force logout does, so whoever holds a session made with the
   * old factor is out too. Recorded as `mfa.disabled` (`details.by`: the admin) and
   * `sessions.revoked_all`. 404 for an unknown user.
   */
  async removeSecondFactors(id: string, context: RequestContext): Promise<void> {
    await this.users.getById(id);
    const removed = await this.factors.removeAll(id);
    await this.codeCheck.forgive(id);
    // `webauthn`, not `passkeys`: event details drop keys that look like secrets (/pass/).
    const details = { by: context.actorId, removed: { totp: removed.totp, webauthn: removed.passkeys } };
    await this.events.record({ type: 'mfa.disabled', userId: id, details, context });
    await this.users.cancelPendingLinks(id);
    const count = await this.sessions.revokeAll(id);
    await this.events.record({ type: 'sessions.revoked_all', userId: id, details: { reason: 'mfa_removed', count }, context });
  }
}
