import { Inject, Injectable } from '@nestjs/common';
import { and, eq, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../../database/database.js';
import { recoveryCodes, totpFactors, type TotpFactorRow } from '../../database/schema.js';

/**
 * Storage of second factors: sealed TOTP secrets and hashed recovery codes; no policy here. Every
 * change that must not race (enrolling over a pending factor, confirming, accepting a code, using a
 * recovery code) is one conditional statement, so it holds across every instance on the database.
 */
@Injectable()
export class MfaRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(tx as unknown as Database));
  }

  async findFactor(userId: string, executor: Database = this.db): Promise<TotpFactorRow | undefined> {
    const [row] = await executor.select().from(totpFactors).where(eq(totpFactors.userId, userId)).limit(1);
    return row;
  }

  /**
   * Stores a pending factor, replacing a pending one (whose secret stops working); false, and
   * nothing changed, when the user has a confirmed factor. One statement: two enrolments racing a
   * confirmation cannot overwrite the confirmed secret.
   */
  async putPending(userId: string, sealedSecret: string): Promise<boolean> {
    const rows = await this.db
      .insert(totpFactors)
      .values({ userId, secret: sealedSecret })
      .onConflictDoUpdate({
        target: totpFactors.userId,
        set: { secret: sealedSecret, lastUsedStep: null, createdAt: sql`now()` },
        setWhere: isNull(totpFactors.confirmedAt),
      })
      .returning({ userId: totpFactors.userId });
    return rows.length === 1;
  }

  /**
   * Confirms the pending factor whose sealed secret is still `sealedSecret` (not one enrolled since
   * it was read), recording `step` as used; false when there is no such pending factor.
   */
  async confirm(userId: string, sealedSecret: string, step: number, executor: Database = this.db): Promise<boolean> {
    const rows = await executor
      .update(totpFactors)
      .set({ confirmedAt: sql`now()`, lastUsedStep: step })
      .where(and(eq(totpFactors.userId, userId), eq(totpFactors.secret, sealedSecret), isNull(totpFactors.confirmedAt)))
      .returning({ userId: totpFactors.userId });
    return rows.length === 1;
  }

  /**
   * Accepts a code of `step` for the confirmed factor sealed as `sealedSecret`: one conditional
   * UPDATE that succeeds only if no code of this step or a newer one was accepted before. Under
   * PostgreSQL's row lock, of two instances accepting the same code at once exactly one updates a
   * row; the other re-checks the condition against the committed step and updates none.
   */
  async markStepUsed(userId: string, sealedSecret: string, step: number): Promise<boolean> {
    const rows = await this.db
      .update(totpFactors)
      .set({ lastUsedStep: step })
      .where(
        and(
          eq(totpFactors.userId, userId),
          eq(totpFactors.secret, sealedSecret),
          isNotNull(totpFactors.confirmedAt),
          or(isNull(totpFactors.lastUsedStep), lt(totpFactors.lastUsedStep, step)),
        ),
      )
      .returning({ userId: totpFactors.userId });
    return rows.length === 1;
  }

  /** Removes the factor (pending or confirmed) and every recovery code, in one transaction. */
  async deleteAll(userId: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const removed = await tx.delete(totpFactors).where(eq(totpFactors.userId, userId)).returning({ userId: totpFactors.userId });
      await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      return removed.length > 0;
    });
  }

  /**
   * Locks the user's confirmed factor row for the rest of `tx` (FOR UPDATE), so a removal cannot
   * interleave with a change of the recovery codes; false when there is no confirmed factor.
   */
  async lockConfirmed(userId: string, tx: Database): Promise<boolean> {
    const rows = await tx
      .select({ userId: totpFactors.userId })
      .from(totpFactors)
      .where(and(eq(totpFactors.userId, userId), isNotNull(totpFactors.confirmedAt)))
      .for('update');
    return rows.length === 1;
  }

  /** Replaces the user's recovery codes with `hashes` (the caller's transaction makes it one change). */
  async replaceRecoveryCodes(userId: string, hashes: string[], executor: Database): Promise<void> {
    await executor.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
    if (hashes.length > 0) await executor.insert(recoveryCodes).values(hashes.map((codeHash) => ({ userId, codeHash })));
  }

  /**
   * Uses up the code stored as one of `hashes`: one `DELETE … RETURNING`, so of two requests
   * presenting the same code exactly one gets the row.
   */
  async takeRecoveryCode(userId: string, hashes: string[]): Promise<boolean> {
    if (hashes.length === 0) return false;
    const rows = await this.db
      .delete(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), inArray(recoveryCodes.codeHash, hashes)))
      .returning({ userId: recoveryCodes.userId });
    return rows.length > 0;
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    const [{ count }] = await this.db
      .select({ count: sql<number>`count(*)::int` })
      .from(recoveryCodes)
      .where(eq(recoveryCodes.userId, userId));
    return Number(count);
  }
}
