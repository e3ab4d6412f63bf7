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
}
