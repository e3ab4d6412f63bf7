/** A user as the rest of the app sees it: never with the password hash. */
export interface User {
  id: string;
  email: string;
  roles: string[];
  disabled: boolean;
  /** Proven by a link mailed to `email` (or a password reset through one). */
  emailVerified: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** When an admin last changed the roles; absent when they never were. */
  rolesChangedAt?: Date;
}

/**
 * The first `iat` an access token carrying the user's current roles may have: the second after the
 * last role change (0 when there was none). The revocation feed's `user` event carries it as
 * `notBefore`, and token minting never stamps an earlier `iat` (docs/api.md, "Role changes").
 */
export function rolesNotBefore(user: Pick<User, 'rolesChangedAt'>): number {
  return user.rolesChangedAt ? Math.floor(user.rolesChangedAt.getTime() / 1000) + 1 : 0;
}
