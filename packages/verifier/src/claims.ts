/**
 * Tessera's access-token claims and the checks on them that a JWT library does not make. Copied
 * from Tessera (src/auth/tokens/access-token.ts, authentication-context.ts, token.service.ts) rather
 * than imported: this package is installed in other services, without Tessera's code.
 */

export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** RFC 8176 method references Tessera uses. */
export const AMR_VALUES = ['pwd', 'otp', 'hwk', 'swk', 'user', 'mfa'] as const;
export type Amr = (typeof AMR_VALUES)[number];

export const ACR_AAL1 = 'urn:tessera:aal1' as const;
export const ACR_AAL2 = 'urn:tessera:aal2' as const;
export const ACR_VALUES = [ACR_AAL1, ACR_AAL2] as const;
export type Acr = (typeof ACR_VALUES)[number];

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  roles: string[];
  /** When the user last proved who they are (NumericDate, seconds). */
  auth_time: number;
  amr: Amr[];
  acr: Acr;
}

/** The principal @CurrentUser() hands a route (the same shape as in Tessera). */
export interface AuthenticatedUser {
  id: string;
  sessionId: string;
  roles: string[];
  /** Epoch milliseconds. */
  authTime: number;
  amr: Amr[];
  acr: Acr;
}

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
 * Tokens signed before Tessera's sessions recorded how the user proved who they are carry none of
 * `auth_time`, `amr`, `acr`: read as a password login of unknown age (passes ordinary routes, fails
 * every @RecentAuth()), as Tessera itself does. A token with only some of the three is malformed.
 */
export function withLegacyAuthentication(claims: Partial<AccessTokenClaims>): Partial<AccessTokenClaims> {
  if (claims.auth_time !== undefined || claims.amr !== undefined || claims.acr !== undefined) return claims;
  return { ...claims, auth_time: 1, amr: ['pwd'], acr: ACR_AAL1 };
}

/** Tessera's own shape check (TokenService.hasValidShape): RFC 9068 `typ` and Tessera's claims. */
export function hasValidShape(
  header: { typ?: unknown },
  claims: Partial<AccessTokenClaims>,
  leewaySeconds = 0,
): claims is AccessTokenClaims {
  return (
    Number.isSafeInteger(claims.auth_time) &&
    claims.auth_time! > 0 &&
    typeof claims.iat === 'number' &&
    claims.auth_time! <= claims.iat + leewaySeconds &&
    isAmrList(claims.amr) &&
    isAcr(claims.acr) &&
    header.typ === ACCESS_TOKEN_TYPE &&
    typeof claims.sub === 'string' &&
    typeof claims.sid === 'string' &&
    typeof claims.jti === 'string' &&
    typeof claims.exp === 'number' &&
    Array.isArray(claims.roles) &&
    claims.roles.every((r) => typeof r === 'string')
  );
}

export const userOf = (claims: AccessTokenClaims): AuthenticatedUser => ({
  id: claims.sub,
  sessionId: claims.sid,
  roles: claims.roles,
  authTime: claims.auth_time * 1000,
  amr: claims.amr,
  acr: claims.acr,
});

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `15m`, `12h`, `7d` or a bare number of seconds → whole seconds; undefined for anything else (as Tessera's). */
export function parseDurationSeconds(value: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
  return seconds > 0 ? seconds : undefined;
}
