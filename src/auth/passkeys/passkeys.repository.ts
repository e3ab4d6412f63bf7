import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, lt, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../../database/database.js';
import { webauthnCredentials, type WebauthnCredentialRow } from '../../database/schema.js';

export type NewPasskey = Omit<WebauthnCredentialRow, 'createdAt' | 'lastUsedAt'>;

/** PostgreSQL's unique_violation: the credential id is already stored (for this user or another). */
const isUniqueViolation = (error: unknown): boolean => {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
};

/**
 * Storage of passkeys (WebAuthn credentials); no policy here. The counter update is one
 * conditional statement, so two instances verifying assertions of one credential at once cannot
 * both accept the same counter value.
 */
@Injectable()
export class PasskeysRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** False when the credential id is already stored, whoever owns it. */
  async insert(row: NewPasskey): Promise<WebauthnCredentialRow | undefined> {
    try {
      const [stored] = await this.db.insert(webauthnCredentials).values(row).returning();
      return stored;
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  async findById(id: string): Promise<WebauthnCredentialRow | undefined> {
    const [row] = await this.db.select().from(webauthnCredentials).where(eq(webauthnCredentials.id, id)).limit(1);
    return row;
  }

  listByUser(userId: string): Promise<WebauthnCredentialRow[]> {
    return this.db
      .select()
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId))
      .orderBy(asc(webauthnCredentials.createdAt), asc(webauthnCredentials.id));
  }

  async countByUser(userId: string): Promise<number> {
    const [{ count }] = await this.db
      .select({ count: sql<number>`count(*)::int` })
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId));
    return Number(count);
  }

  async rename(userId: string, id: string, name: string): Promise<WebauthnCredentialRow | undefined> {
    const [row] = await this.db
      .update(webauthnCredentials)
      .set({ name })
      .where(and(eq(webauthnCredentials.id, id), eq(webauthnCredentials.userId, userId)))
      .returning();
    return row;
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(webauthnCredentials)
      .where(and(eq(webauthnCredentials.id, id), eq(webauthnCredentials.userId, userId)))
      .returning({ id: webauthnCredentials.id });
    return rows.length === 1;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const rows = await this.db
      .delete(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId))
      .returning({ id: webauthnCredentials.id });
    return rows.length;
  }

  /**
   * Records a verified use: the new counter (only if it is still above the stored one, or both are
   * 0 for an authenticator without a counter), the backup state and the time. False when another
   * use got there first with this counter or a later one (a cloned or replayed assertion).
   */
  async recordUse(id: string, counter: number, backedUp: boolean): Promise<boolean> {
    const rows = await this.db
      .update(webauthnCredentials)
      .set({ counter, backedUp, lastUsedAt: sql`now()` })
      .where(
        and(eq(webauthnCredentials.id, id), counter === 0 ? eq(webauthnCredentials.counter, 0) : lt(webauthnCredentials.counter, counter)),
      )
      .returning({ id: webauthnCredentials.id });
    return rows.length === 1;
  }
}
