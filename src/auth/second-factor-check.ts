import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { RateLimiter } from '../throttling/rate-limit.js';
import { RecoveryCodesService } from './mfa/recovery-codes.service.js';
import { TotpService } from './mfa/totp.service.js';

/** A second factor presented at the second step of a login or at a reauthentication. */
export type CodeProof = { code: string; recoveryCode?: undefined } | { recoveryCode: string; code?: undefined };

/** Wrong codes (TOTP or recovery) one account may have checked per MFA_ACCOUNT_WINDOW_MS, wherever they come from. */
export const MFA_ACCOUNT_LIMIT = 10;
export const MFA_ACCOUNT_WINDOW_MS = 15 * 60_000;

/**
 * Checks a second factor for an account, with what it costs: a per-account allowance of wrong
 * codes (MFA_ACCOUNT_LIMIT per 15 minutes, shared by logins and reauthentications on every
 * instance: a code has 10^6 values, so guesses must stay few), `mfa.failed` for a refusal,
 * `recovery_code.used` (with the codes left) for a recovery code. The slot is taken before the
 * check, atomically, so parallel guesses cannot all pass a check made before any was counted.
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
  async verify(userId: string, proof: CodeProof, context: RequestContext, stage: 'login' | 'reauthentication', sessionId?: string) {
    const method = proof.code !== undefined ? 'totp' : 'recovery_code';
    const retryAfter = await this.limiter.reserve('mfa-account', userId, MFA_ACCOUNT_LIMIT, MFA_ACCOUNT_WINDOW_MS);
    if (retryAfter !== undefined) {
      await this.events.record({
        type: 'mfa.failed',
        outcome: 'failure',
        userId,
        sessionId,
        details: { method, stage, reason: 'locked' },
        context,
      });
      throw Problems.rateLimited(retryAfter);
    }
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
      throw Problems.invalidCode();
    }
    await this.limiter.release('mfa-account', userId);
    if (method === 'recovery_code') {
      const remaining = await this.recoveryCodes.remainingRecoveryCodes(userId);
      await this.events.record({ type: 'recovery_code.used', userId, sessionId, details: { stage, remaining }, context });
    }
  }
}
