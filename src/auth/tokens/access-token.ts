import type { Acr, Amr } from './authentication-context.js';

/** Claims of a Tessera access token (RFC 9068 `at+jwt`). */
export interface AccessTokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  roles: string[];
  /** When the user last proved who they are (NumericDate, seconds); a refresh keeps it. */
  auth_time: number;
  /** How (RFC 8176). */
  amr: Amr[];
  /** What that proof is worth: `urn:tessera:aal1` or `urn:tessera:aal2`. */
  acr: Acr;
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** The authenticated principal a guarded route sees through @CurrentUser(). */
export interface AuthenticatedUser {
  id: string;
  sessionId: string;
  roles: string[];
  /** The token's `auth_time` in epoch milliseconds (whole seconds). */
  authTime: number;
  amr: Amr[];
  acr: Acr;
}
