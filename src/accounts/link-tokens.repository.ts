import { Inject, Injectable } from '@nestjs/common';
import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../database/database.js';
import { type LinkPurpose, linkTokens, type LinkTokenRow } from '../database/schema.js';

/**
 * Storage of mailed links (hashes only); no policy here. One row per user and purpose, so storing
 * a new link replaces the old one. Times come from the database's clock, for issuing and checking
 * alike. Every method takes the executor of the caller's transaction.
 */
@Injectable()
export class LinkTokensRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Stores the link of `purpose` for the user, replacing the earlier one (which stops working). */
  async put(userId: string, purpose: LinkPurpose, tokenHash: string, email: string, ttlSeconds: number, executor: Database = this.db) {
    const expiresAt = sql`now() + ${Math.trunc(ttlSeconds)}::integer * interval '1 second'`;
    await executor
      .insert(linkTokens)
      .values({ userId, purpose, tokenHash, email, expiresAt })
      .onConflictDoUpdate({
        target: [linkTokens.userId, linkTokens.purpose],
        set: { tokenHash, email, expiresAt, createdAt: sql`now()` },
      });
  }

  /** The live (unexpired) row one of `hashes` names, without using it up. */
  async find(hashes: string[], purposes: readonly LinkPurpose[], executor: Database = this.db): Promise<LinkTokenRow | undefined> {
    if (hashes.length === 0) return undefined;
    const [row] = await executor
      .select()
      .from(linkTokens)
      .where(and(inArray(linkTokens.tokenHash, hashes), inArray(linkTokens.purpose, [...purposes]), gt(linkTokens.expiresAt, sql`now()`)))
      .limit(1);
    return row;
  }

  /**
   * Uses the link up: one `DELETE … RETURNING` of the live row, so of two requests presenting the
   * same token exactly one gets the row.
   */
  async take(hashes: string[], purposes: readonly LinkPurpose[], executor: Database = this.db): Promise<LinkTokenRow | undefined> {
    if (hashes.length === 0) return undefined;
    const [row] = await executor
      .delete(linkTokens)
      .where(and(inArray(linkTokens.tokenHash, hashes), inArray(linkTokens.purpose, [...purposes]), gt(linkTokens.expiresAt, sql`now()`)))
      .returning();
    return row;
  }

  /** Deletes every link of the user (or those of `purposes`). */
  async deleteForUser(userId: string, executor: Database = this.db, purposes?: readonly LinkPurpose[]): Promise<void> {
    const conditions = [eq(linkTokens.userId, userId)];
    if (purposes) conditions.push(inArray(linkTokens.purpose, [...purposes]));
    await executor.delete(linkTokens).where(and(...conditions));
  }
}
