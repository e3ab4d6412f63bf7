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
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** The authenticated principal a guarded route sees through @CurrentUser(). */
export interface AuthenticatedUser {
  id: string;
  sessionId: string;
  roles: string[];
}
