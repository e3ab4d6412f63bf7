import { Inject, Injectable } from '@nestjs/common';
import { and, eq, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../database/database.js';
import { users, type UserRow } from '../database/schema.js';
import type { User } from './user.js';

const UNIQUE_VIOLATION = '23505';

/** Arbitrary constant: serialises changes that could remove the last enabled admin. */
const ADMIN_CHANGES_LOCK_ID = 0x7e55ad1;

export class EmailTakenError extends Error {}

/** The change would leave no enabled user with the admin role; nothing was changed. */
export class LastAdminError extends Error {}

/** Storage of users; no policy here. */
@Injectable()
export class UsersRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async findById(id: string): Promise<User | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return row ? toUser(row) : undefined;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.email, email)).limit(1);
    return row ? toUser(row) : undefined;
  }

  /** With the password hash, for login and password changes only. */
  async findCredentialsByEmail(email: string): Promise<(User & { passwordHash: string }) | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.email, email)).limit(1);
    return row ? { ...toUser(row), passwordHash: row.passwordHash } : undefined;
  }

  async findPasswordHash(id: string): Promise<string | undefined> {
    const [row] = await this.db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, id)).limit(1);
    return row?.passwordHash;
  }

  async insert(email: string, passwordHash: string, roles: string[]): Promise<User> {
    try {
      const [row] = await this.db.insert(users).values({ email, passwordHash, roles }).returning();
      return toUser(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
  }

  async update(id: string, changes: { disabled?: boolean; roles?: string[]; passwordHash?: string }): Promise<User | undefined> {
    const [row] = await this.db
      .update(users)
      .set({ ...changes, updatedAt: sql`now()` })
      .where(eq(users.id, id))
      .returning();
    return row ? toUser(row) : undefined;
  }

  /**
   * Swaps the password hash only while it is still `expected` (a rehash of the same password must
   * never undo a password change made meanwhile); updated_at stays, nothing the user sees changed.
   */
  async replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean> {
    const rows = await this.db
      .update(users)
      .set({ passwordHash })
      .where(and(eq(users.id, id), eq(users.passwordHash, expected)))
      .returning({ id: users.id });
    return rows.length > 0;
  }

  /**
   * Like update(), for changes that may take away an admin (disabling, or roles without admin):
   * in one transaction, under an advisory lock so two such changes cannot each see the other's
   * admin still there, the change is made and then refused (rolled back) if no enabled admin is left.
   */
  async updateKeepingAnAdmin(id: string, changes: { disabled?: boolean; roles?: string[] }): Promise<User | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${ADMIN_CHANGES_LOCK_ID})`);
      const [row] = await tx
        .update(users)
        .set({ ...changes, updatedAt: sql`now()` })
        .where(eq(users.id, id))
        .returning();
      if (!row) return undefined;
      const [{ admins }] = await tx
        .select({ admins: sql<number>`count(*)::int` })
        .from(users)
        .where(and(eq(users.disabled, false), sql`'admin' = ANY(${users.roles})`));
      if (Number(admins) === 0) throw new LastAdminError();
      return toUser(row);
    });
  }

  /**
   * Creates the user unless the email is taken; undefined when it was (the existing row is not
   * touched). One statement, so instances starting together cannot both create it or race.
   */
  async insertIfAbsent(email: string, passwordHash: string, roles: string[]): Promise<User | undefined> {
    const [row] = await this.db
      .insert(users)
      .values({ email, passwordHash, roles })
      .onConflictDoNothing({ target: users.email })
      .returning();
    return row ? toUser(row) : undefined;
  }
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    roles: row.roles,
    disabled: row.disabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function isUniqueViolation(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === UNIQUE_VIOLATION) return true;
  }
  return false;
}
