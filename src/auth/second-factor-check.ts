import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { RateLimiter } from '../throttling/rate-limit.js';
import { RecoveryCodesService } from './mfa/recovery-codes.service.js';
import { TotpService } from './mfa/totp.service.js';

/** A second factor presented at the second step of a login or at a reauthentication. */
export type CodeProof = { code: string; recoveryCode?: undefined } | { recoveryCode: string; code?: undefined };

/**
 * Wrong codes (TOTP or recovery) one account may have checked per MFA_ACCOUNT_WINDOW_MS, wherever
 * they come from; clients holding a device token of the account (the owner's browser) have an
 * allowance of their own, so someone with the password cannot lock the owner out of the second step.
 */
export const MFA_ACCOUNT_LIMIT = 10;
export const MFA_ACCOUNT_WINDOW_MS = 15 * 60_000;
/**
 * Consecutive wrong codes from clients without a device token after which the second step stays
 * closed to them (NIST SP 800-63B: at most 100): the per-window allowance alone would let a holder
 * of the password guess for ever. A good code (from anywhere) or an admin's removal of the factors
 * ends the count; else it lapses MFA_CONSECUTIVE_WINDOW_MS after it began.
 */
export const MFA_CONSECUTIVE_LIMIT = 100;
export const MFA_CONSECUTIVE_WINDOW_MS = 30 * 86_400_000;

export interface CodeCheckOptions {
  sessionId?: string;
  /** The client holds a valid device token of the account (LoginThrottle's exemption). */
  knownDevice?: boolean;
}

/**
 * Checks a second factor for an account, with what it costs: an allowance of wrong codes
 * (MFA_ACCOUNT_LIMIT per 15 minutes, shared by logins and reauthentications on every instance: a
 * code has 10^6 values, so guesses must stay few), a cap on consecutive wrong codes from unknown
 * clients, `mfa.failed` for a refusal, `recovery_code.used` (with the codes left) for a recovery
 * code. The slot is taken before the check, atomically, so parallel guesses cannot all pass a
 * check made before any was counted.
 */
@Injectable()
export class SecondFactorCheck {
  constructor(
    private readonly totp: TotpService,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly limiter: RateLimiter,
    private readonly events: SecurityEventsService,
  ) {}

  /** Resolves when the proof is good (used up: a code's step, a recovery code); 429 `rate_limited` or 401 `invalid_code` otherwise. */
  async verify(
    userId: string,
    proof: CodeProof,
    context: RequestContext,
    stage: 'login' | 'reauthentication',
    { sessionId, knownDevice = false }: CodeCheckOptions = {},
  ) {
    const method = proof.code !== undefined ? 'totp' : 'recovery_code';
    const allowance = knownDevice ? 'mfa-device' : 'mfa-account';
    const locked = async (retryAfter: number, reason: string) => {
      await this.events.record({ type: 'mfa.failed', outcome: 'failure', userId, sessionId, details: { method, stage, reason }, context });
      return Problems.rateLimited(retryAfter);
    };
    if (!knownDevice) {
      const closed = await this.limiter.exhausted('mfa-consecutive', userId, MFA_CONSECUTIVE_LIMIT);
      if (closed !== undefined) throw await locked(closed, 'consecutive_failures');
    }
    const retryAfter = await this.limiter.reserve(allowance, userId, MFA_ACCOUNT_LIMIT, MFA_ACCOUNT_WINDOW_MS);
    if (retryAfter !== undefined) throw await locked(retryAfter, 'locked');
    const ok =
      proof.code !== undefined
        ? await this.totp.verify(userId, proof.code)
        : await this.recoveryCodes.useRecoveryCode(userId, proof.recoveryCode);
    if (!ok) {
      await this.events.record({
        type: 'mfa.failed',
        outcome: 'failure',
        userId,
        sessionId,
        details: { method, stage, reason: 'wrong_code' },
        context,
      });
      if (!knownDevice) await this.limiter.withinCap('mfa-consecutive', userId, MFA_CONSECUTIVE_LIMIT, MFA_CONSECUTIVE_WINDOW_MS);
      throw Problems.invalidCode();
    }
    await this.limiter.release(allowance, userId);
    await this.limiter.reset('mfa-consecutive', userId);
    if (method === 'recovery_code') {
      const remaining = await this.recoveryCodes.remainingRecoveryCodes(userId);
      await this.events.record({ type: 'recovery_code.used', userId, sessionId, details: { stage, remaining }, context });
    }
  }

  /** An admin removed the user's factors: whatever count of wrong codes there was ends with them. */
  async forgive(userId: string): Promise<void> {
    await this.limiter.reset('mfa-consecutive', userId);
  }
}
