import { Injectable } from '@nestjs/common';
import type { Database } from '../../database/database.js';
import { Problems } from '../../common/problems/problem.js';
import { MfaRepository } from './mfa.repository.js';
import { newRecoveryCode, normaliseRecoveryCode, RECOVERY_CODE_COUNT, RecoveryCodeHasher } from './recovery-codes.js';

/**
 * Recovery codes: the way in when the authenticator app is lost. A set of RECOVERY_CODE_COUNT codes
 * is made when a factor is confirmed and whenever the user asks for a new set (the old set dies in
 * the same transaction); each code works once. The plain codes exist only in the answer that
 * returns them: they are never stored, cached or logged.
 */
@Injectable()
export class RecoveryCodesService {
  constructor(
    private readonly repository: MfaRepository,
    private readonly hasher: RecoveryCodeHasher,
  ) {}

  /**
   * A new set for the user inside the caller's transaction (the confirmation of a factor, or
   * regenerateRecoveryCodes), replacing any earlier set. Returns the codes formatted for display.
   */
  async issue(userId: string, tx: Database): Promise<string[]> {
    const codes = new Set<string>();
    while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode());
    const plain = [...codes];
    const hashes = plain.map((code) => this.hasher.hash(userId, normaliseRecoveryCode(code)!));
    await this.repository.replaceRecoveryCodes(userId, hashes, tx);
    return plain;
  }

  /**
   * A fresh set replacing the old one, in one transaction that holds the factor's row lock, so a
   * concurrent removal of the factor cannot leave codes behind. 409 `mfa_not_enabled` without a
   * confirmed factor.
   */
  async regenerateRecoveryCodes(userId: string): Promise<string[]> {
    return this.repository.transaction(async (tx) => {
      if (!(await this.repository.lockConfirmed(userId, tx))) throw Problems.mfaNotEnabled();
      return this.issue(userId, tx);
    });
  }

  /**
   * Uses up one code (any case, spaces or dashes, I/L for 1 and O for 0): true once per code; of two
   * requests racing with the same code exactly one gets true. False for a malformed, unknown or used
   * code; the caller decides what a failure costs (attempt limits, security events).
   */
  async useRecoveryCode(userId: string, code: unknown): Promise<boolean> {
    return this.repository.takeRecoveryCode(userId, this.hasher.candidates(userId, code));
  }

  /** How many unused codes the user has left (for "running low" prompts). */
  remainingRecoveryCodes(userId: string): Promise<number> {
    return this.repository.countRecoveryCodes(userId);
  }
}
