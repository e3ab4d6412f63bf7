import { timingSafeEqual } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as authenticator apps expect it (RFC 6238 with the parameters every app supports): HMAC-SHA-1,
 * 6 digits, 30-second steps. Other parameters are allowed by the RFC but silently ignored by several
 * popular apps, which would then show codes that never work.
 */
export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** 160 bits, the HMAC-SHA-1 block output size RFC 4226 recommends for the shared secret. */
export const TOTP_SECRET_BYTES = 20;
/**
 * Steps accepted either side of the current one: one step (RFC 6238 §5.2's recommendation) covers a
 * phone clock a little off and a code typed just as it changed; more would only widen what a guess
 * can hit (3 codes in 10^6 per attempt with one step; routes must still limit attempts).
 */
export const TOTP_DRIFT_STEPS = 1;

const CODE_SHAPE = /^[0-9]{6}$/;

/** The code as typed, without the spaces some apps show in the middle ("123 456"); undefined if it cannot be a code. */
export function normaliseTotpCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 16) return undefined;
  const code = input.replace(/\s+/g, '');
  return CODE_SHAPE.test(code) ? code : undefined;
}

/** A fresh random secret, base32 (what users type and what otpauth:// URIs carry). */
export function newTotpSecret(): string {
  return new Secret({ size: TOTP_SECRET_BYTES }).base32;
}

/** The 30-s step `timestampMs` falls in (the RFC's T). */
export function totpStep(timestampMs: number): number {
  return Math.floor(timestampMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one step (tests and the matcher). */
export function totpCode(secretBase32: string, step: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: step * TOTP_PERIOD_SECONDS * 1000,
  });
}

/**
 * The step whose code `code` is, within TOTP_DRIFT_STEPS of the step `nowMs` falls in, or undefined.
 * Every step of the window is computed and compared in constant time (the work does not depend on
 * which step matched); if two steps share the code (one chance in a million), the newest wins, so
 * recording it as used also refuses the other.
 */
export function matchTotpStep(secretBase32: string, code: string, nowMs: number): number | undefined {
  const normalised = normaliseTotpCode(code);
  if (!normalised) return undefined;
  const given = Buffer.from(normalised);
  const now = totpStep(nowMs);
  let matched: number | undefined;
  for (let step = now - TOTP_DRIFT_STEPS; step <= now + TOTP_DRIFT_STEPS; step++) {
    if (timingSafeEqual(Buffer.from(totpCode(secretBase32, step)), given)) matched = step;
  }
  return matched;
}

/** The `otpauth://totp/…` URI an authenticator app reads (as a QR code) to enrol the secret. */
export function otpauthUri(secretBase32: string, issuer: string, label: string): string {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}
