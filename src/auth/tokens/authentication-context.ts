/**
 * How a user last proved who they are, carried by a session and by its access tokens:
 * `auth_time`, `amr` (RFC 8176 method references) and `acr` (Tessera's assurance levels).
 */

/** RFC 8176 values Tessera uses: password, one-time code, hardware or software key, user presence/verification, several factors. */
export const AMR_VALUES = ['pwd', 'otp', 'hwk', 'swk', 'user', 'mfa'] as const;
export type Amr = (typeof AMR_VALUES)[number];

export const ACR_AAL1 = 'urn:tessera:aal1' as const;
export const ACR_AAL2 = 'urn:tessera:aal2' as const;
export const ACR_VALUES = [ACR_AAL1, ACR_AAL2] as const;
export type Acr = (typeof ACR_VALUES)[number];

export interface AuthenticationContext {
  /** When the user last proved who they are (epoch milliseconds): login, second factor, reauthentication. */
  authTime: number;
  amr: Amr[];
  acr: Acr;
}

/** What a password alone is worth. */
export const passwordProof = (authTime: number): AuthenticationContext => ({ authTime, amr: ['pwd'], acr: ACR_AAL1 });

/**
 * What a passkey is worth: `swk` for a backed-up (synced) credential, else `hwk`; with user
 * verification (PIN, biometrics) it is two factors in one (`user`, `mfa`, aal2), else aal1.
 */
export const passkeyProof = (authTime: number, passkey: { userVerified: boolean; backedUp: boolean }): AuthenticationContext => ({
  authTime,
  amr: [passkey.backedUp ? 'swk' : 'hwk', ...(passkey.userVerified ? (['user', 'mfa'] as const) : [])],
  acr: passkey.userVerified ? ACR_AAL2 : ACR_AAL1,
});

/** A one-time code (TOTP) alone, at a reauthentication: one factor, aal1. */
export const codeProof = (authTime: number): AuthenticationContext => ({ authTime, amr: ['otp'], acr: ACR_AAL1 });

/** A password and a one-time code (TOTP or recovery code): two factors, aal2. */
export const passwordAndCodeProof = (authTime: number): AuthenticationContext => ({
  authTime,
  amr: ['pwd', 'otp', 'mfa'],
  acr: ACR_AAL2,
});

export const isAmrList = (value: unknown): value is Amr[] =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.length <= AMR_VALUES.length &&
  value.every((v) => (AMR_VALUES as readonly unknown[]).includes(v)) &&
  new Set(value).size === value.length;

export const isAcr = (value: unknown): value is Acr => (ACR_VALUES as readonly unknown[]).includes(value);

/** Ranks assurance levels: aal2 satisfies a requirement of aal1. */
export const acrRank = (acr: Acr): number => ACR_VALUES.indexOf(acr) + 1;

/**
 * The compact form a store keeps (one short value, e.g. `miew3aaz pwd 1`): the time in
 * milliseconds in base 36 (8 characters instead of 13: every live session carries it, and the
 * per-session memory budget is a few hundred bytes), the methods joined by commas, the assurance
 * level's digit.
 */
export function encodeAuthentication(context: AuthenticationContext): string {
  return `${context.authTime.toString(36)} ${context.amr.join(',')} ${acrRank(context.acr)}`;
}

/**
 * Reads encodeAuthentication's form. Sessions created before it existed (or anything unreadable)
 * count as a password login at the session's creation.
 */
export function decodeAuthentication(encoded: string | undefined, createdAt: number): AuthenticationContext {
  const [time, amr, level] = (encoded ?? '').split(' ');
  const authTime = /^[0-9a-z]{1,11}$/.test(time ?? '') ? parseInt(time, 36) : NaN;
  const methods = amr?.split(',');
  const acr = ACR_VALUES[Number(level) - 1];
  if (!encoded || !Number.isSafeInteger(authTime) || authTime <= 0 || !isAmrList(methods) || !isAcr(acr)) return passwordProof(createdAt);
  return { authTime, amr: methods, acr };
}
