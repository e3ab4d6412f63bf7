import { randomUUID } from 'node:crypto';

export type Claims = Record<string, unknown>;

/**
 * The claims of a correct access token for `user`, as Tessera mints them with its default
 * JWT_ISSUER and JWT_AUDIENCE; `overrides` replace claims, and an `undefined` override removes one.
 * For tests that sign their own tokens (forged ones, or ones from a known key).
 */
export function accessTokenClaims(user: { userId: string; sessionId: string }, overrides: Claims = {}): Claims {
  const now = Math.floor(Date.now() / 1000);
  const claims: Claims = {
    iss: 'tessera',
    aud: 'tessera-api',
    sub: user.userId,
    sid: user.sessionId,
    roles: ['user'],
    jti: randomUUID(),
    iat: now,
    exp: now + 900,
    auth_time: now - 60,
    amr: ['pwd'],
    acr: 'urn:tessera:aal1',
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}
