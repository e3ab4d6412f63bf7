import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { authConfig } from '../config/configuration.js';
import { UsersService } from '../users/users.service.js';
import { RecoveryCodesService } from './mfa/recovery-codes.service.js';
import { SecondFactors } from './second-factors.service.js';
import { type TotpEnrolment, TotpService } from './mfa/totp.service.js';
import type { Acr } from './tokens/authentication-context.js';

type Caller = { id: string; sessionId: string; acr: Acr };

/**
 * The user's own second factors (the /auth/mfa routes): enrolment, confirmation, removal, new
 * recovery codes, with their security events. The routes' guards decide how recent and how strong
 * the caller's proof must be; this is what happens once they let it through.
 */
@Injectable()
export class MfaService {
  constructor(
    private readonly totp: TotpService,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly factors: SecondFactors,
    private readonly users: UsersService,
    private readonly events: SecurityEventsService,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  async status(userId: string): Promise<{ totp: boolean; recoveryCodesLeft: number }> {
    const totp = await this.totp.isEnabled(userId);
    return { totp, recoveryCodesLeft: totp ? await this.recoveryCodes.remainingRecoveryCodes(userId) : 0 };
  }

  /** A pending factor labelled with the account's email (what the authenticator app lists). */
  async enrolTotp(user: Caller): Promise<TotpEnrolment> {
    await this.mayAddTotp(user);
    const { email } = await this.users.getById(user.id);
    return this.totp.enrol(user.id, email);
  }

  async confirmTotp(user: Caller, code: string, context: RequestContext): Promise<{ recoveryCodes: string[] }> {
    // Checked again at confirmation: the account may have gained a passkey since the enrolment began.
    await this.mayAddTotp(user);
    const confirmed = await this.totp.confirm(user.id, code);
    await this.events.record({ type: 'mfa.enabled', userId: user.id, sessionId: user.sessionId, details: { method: 'totp' }, context });
    return confirmed;
  }

  /**
   * Before enrolling or confirming the app: already set up is 409 first (the answer TotpService
   * gives, before any step-up question); an account with a passkey already has a factor, and
   * adding the app then needs two factors' proof.
   */
  private async mayAddTotp(user: Caller): Promise<void> {
    if (await this.totp.isEnabled(user.id)) throw Problems.mfaAlreadyEnabled();
    await this.factors.requireTwoFactorProofToAdd(user, this.auth.reauthMaxAgeSeconds);
  }

  /** Removes the factor and its recovery codes; 409 `mfa_not_enabled` when there was none. */
  async disableTotp(user: Caller, context: RequestContext): Promise<void> {
    const removed = await this.totp.disable(user.id);
    this.factors.forget(user.id);
    if (!removed) throw Problems.mfaNotEnabled();
    await this.events.record({ type: 'mfa.disabled', userId: user.id, sessionId: user.sessionId, details: { method: 'totp' }, context });
  }

  regenerateRecoveryCodes(user: Caller): Promise<string[]> {
    return this.recoveryCodes.regenerateRecoveryCodes(user.id);
  }
}
