import { Inject, Injectable } from '@nestjs/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../database/database.js';
import { type LinkPurpose, linkTokens, users, type UserRow } from '../database/schema.js';
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

  /**
   * Runs `work` in one transaction; the other methods take its executor (`tx`) so a caller above
   * users/ (accounts/) can create or change a user and write its own rows atomically.
   */
  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(tx as unknown as Database));
  }

  async findById(id: string, executor: Database = this.db): Promise<User | undefined> {
    const [row] = await executor.select().from(users).where(eq(users.id, id)).limit(1);
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

  async insert(email: string, passwordHash: string, roles: string[], executor: Database = this.db): Promise<User> {
    try {
      const [row] = await executor.insert(users).values({ email, passwordHash, roles }).returning();
      return toUser(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
  }

  async update(id: string, changes: { disabled?: boolean; roles?: string[] }): Promise<User | undefined> {
    const [row] = await this.db
      .update(users)
      .set({ ...changes, updatedAt: sql`now()`, ...(changes.roles !== undefined ? { rolesChangedAt: sql`now()` } : {}) })
      .where(eq(users.id, id))
      .returning();
    return row ? toUser(row) : undefined;
  }

  /**
   * A new password hash. The user's pending reset and email-change links die with the old password
   * in the same transaction: a link asked for with the old credentials (perhaps by someone who knew
   * them) must not undo the change, nor move the account to another address.
   */
  async setPasswordHash(
    id: string,
    passwordHash: string,
    options: { markEmailVerified?: boolean; onlyIf?: { email: string; enabled: true } } = {},
    executor?: Database,
  ): Promise<User | undefined> {
    const run = async (tx: Database) => {
      const conditions = [eq(users.id, id)];
      if (options.onlyIf) conditions.push(eq(users.email, options.onlyIf.email), eq(users.disabled, false));
      const [row] = await tx
        .update(users)
        .set({ passwordHash, ...(options.markEmailVerified ? { emailVerified: true } : {}), updatedAt: sql`now()` })
        .where(and(...conditions))
        .returning();
      if (row) await this.cancelPendingLinks(id, tx);
      return row ? toUser(row) : undefined;
    };
    return executor ? run(executor) : this.transaction(run);
  }

  /**
   * Deletes the user's pending password-reset and email-change links (verification links prove
   * only the current address, and stay). What ends every session of an account (a password change,
   * logging out everywhere, an admin) ends the changes asked for in those sessions too.
   */
  async cancelPendingLinks(id: string, executor: Database = this.db): Promise<void> {
    await executor
      .delete(linkTokens)
      .where(and(eq(linkTokens.userId, id), inArray(linkTokens.purpose, ['reset_password', 'change_email'] satisfies LinkPurpose[])));
  }

  /** Marks the email verified while it is still `email` (a link proves only the address it was sent to). */
  async markEmailVerified(id: string, email: string, executor: Database = this.db): Promise<User | undefined> {
    const [row] = await executor
      .update(users)
      .set({ emailVerified: true, updatedAt: sql`now()` })
      .where(and(eq(users.id, id), eq(users.email, email)))
      .returning();
    return row ? toUser(row) : undefined;
  }

  /** Moves the account to a new (verified) address; EmailTakenError when another account holds it. */
  async changeEmail(id: string, email: string, executor: Database = this.db): Promise<User | undefined> {
    try {
      const [row] = await executor
        .update(users)
        .set({ email, emailVerified: true, updatedAt: sql`now()` })
        .where(eq(users.id, id))
        .returning();
      return row ? toUser(row) : undefined;
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
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
        .set({ ...changes, updatedAt: sql`now()`, ...(changes.roles !== undefined ? { rolesChangedAt: sql`now()` } : {}) })
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
  async insertIfAbsent(email: string, passwordHash: string, roles: string[], emailVerified = false): Promise<User | undefined> {
    const [row] = await this.db
      .insert(users)
      .values({ email, passwordHash, roles, emailVerified })
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
    emailVerified: row.emailVerified,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.rolesChangedAt ? { rolesChangedAt: row.rolesChangedAt } : {}),
  };
}

function isUniqueViolation(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === UNIQUE_VIOLATION) return true;
  }
  return false;
}
