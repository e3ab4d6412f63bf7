/** A user as the rest of the app sees it: never with the password hash. */
export interface User {
  id: string;
  email: string;
  roles: string[];
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}
