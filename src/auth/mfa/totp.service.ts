import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Problems } from '../../common/problems/problem.js';
import { mailConfig } from '../../config/configuration.js';
import { type PurposeKeys, ServerSecrets } from '../../secrets/server-secrets.js';
import { MfaClock } from './mfa-clock.js';
import { MfaRepository } from './mfa.repository.js';
import { RecoveryCodesService } from './recovery-codes.service.js';
import { matchTotpStep, newTotpSecret, normaliseTotpCode, otpauthUri } from './totp.js';

export interface TotpEnrolment {
  /** Base32, for typing into an app by hand; shown once, never stored in the clear. */
  secret: string;
  /** `otpauth://totp/<issuer>:<label>?secret=…`, for a QR code. */
  otpauthUri: string;
}

/**
 * The TOTP factor's policy: enrol (pending) → confirm with a first code (recovery codes issued) →
 * verify at login and step-up → remove. Storage is MfaRepository; the HTTP layer (next) maps the
 * problems thrown here and limits attempts.
 *
 * The secret rests sealed (AES-256-GCM, SERVER_SECRETS purpose `totp-secret`, the user id as
 * authenticated context): unlike a password it cannot be hashed, since the server computes codes
 * from it. Nothing of it goes to Redis: the replay guard is the factor row's `last_used_step`,
 * which PostgreSQL updates atomically for every instance.
 */
@Injectable()
export class TotpService {
  private readonly logger = new Logger('Mfa');
  private readonly keys: PurposeKeys;
  private readonly issuer: string;

  constructor(
    private readonly repository: MfaRepository,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly clock: MfaClock,
    secrets: ServerSecrets,
    @Inject(mailConfig.KEY) mail: ConfigType<typeof mailConfig>,
  ) {
    this.keys = secrets.for('totp-secret');
    // The name the user already knows from our mails, shown by the authenticator app.
    this.issuer = mail.productName;
  }

  /**
   * A new random secret (160 bits) as a pending factor, replacing a pending one: an enrolment
   * abandoned halfway (the QR code never scanned) can simply be restarted. 409
   * `mfa_already_enabled` if a factor is confirmed: replacing a working factor must be an explicit
   * removal (which routes will guard with a recent authentication), not a side effect.
   * `accountLabel` is what the app lists the entry under (the account's email).
   */
  async enrol(userId: string, accountLabel: string): Promise<TotpEnrolment> {
    const secret = newTotpSecret();
    if (!(await this.repository.putPending(userId, this.keys.seal(secret, userId)))) throw Problems.mfaAlreadyEnabled();
    return { secret, otpauthUri: otpauthUri(secret, this.issuer, accountLabel) };
  }

  /**
   * Proves the app holds the pending secret (a code within one step of now), confirms the factor,
   * records the code's step as used, and issues the recovery codes, all in one transaction. The
   * codes are returned here, once. 409 `mfa_already_enabled` / `mfa_not_enrolling`, 400
   * `mfa_code_invalid`.
   */
  async confirm(userId: string, code: unknown): Promise<{ recoveryCodes: string[] }> {
    const factor = await this.repository.findFactor(userId);
    if (factor?.confirmedAt) throw Problems.mfaAlreadyEnabled();
    if (!factor) throw Problems.mfaNotEnrolling();
    const secret = this.open(userId, factor.secret);
    if (!secret) throw Problems.mfaNotEnrolling();
    const normalised = normaliseTotpCode(code);
    const step = normalised ? matchTotpStep(secret, normalised, this.clock.now()) : undefined;
    if (step === undefined) throw Problems.mfaCodeInvalid();
    const recoveryCodes = await this.repository.transaction(async (tx) => {
      // Only the secret just checked: an enrolment restarted meanwhile (another tab) replaced it.
      if (!(await this.repository.confirm(userId, factor.secret, step, tx))) throw Problems.mfaNotEnrolling();
      return this.recoveryCodes.issue(userId, tx);
    });
    return { recoveryCodes };
  }

  /**
   * The second factor at login or step-up: true only for a confirmed factor, a well-formed code
   * within one step of now, whose step is newer than any accepted before. Checking and recording
   * the step is one conditional UPDATE, so a code is accepted once across all instances, and a
   * replayed or older code (an attacker reading over a shoulder) is refused. False, never a throw,
   * for every refusal; the caller counts failures.
   */
  async verify(userId: string, code: unknown): Promise<boolean> {
    const normalised = normaliseTotpCode(code);
    if (!normalised) return false;
    const factor = await this.repository.findFactor(userId);
    if (!factor?.confirmedAt) return false;
    const secret = this.open(userId, factor.secret);
    if (!secret) return false;
    const step = matchTotpStep(secret, normalised, this.clock.now());
    if (step === undefined) return false;
    // The UPDATE below refuses it too; this only saves the write.
    if (factor.lastUsedStep !== null && step <= factor.lastUsedStep) return false;
    return this.repository.markStepUsed(userId, factor.secret, step);
  }

  /** Removes the factor (pending or confirmed) and the recovery codes; true if there was one. */
  disable(userId: string): Promise<boolean> {
    return this.repository.deleteAll(userId);
  }

  /** Whether password logins need a second factor: a confirmed factor exists. */
  async isEnabled(userId: string): Promise<boolean> {
    return Boolean((await this.repository.findFactor(userId))?.confirmedAt);
  }

  private open(userId: string, sealed: string): string | undefined {
    const secret = this.keys.open(sealed, userId);
    // The secret that sealed it left SERVER_SECRETS (or the row was tampered with): the factor is
    // unusable until it is removed and enrolled again. Logged by user id only.
    if (secret === undefined) this.logger.warn(`The TOTP secret of user ${userId} does not open with SERVER_SECRETS`);
    return secret;
  }
}
