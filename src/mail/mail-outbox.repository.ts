import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../database/database.js';
import { mailOutbox, type MailOutboxRow } from '../database/schema.js';

/** The `mail_outbox` table: storage only, no policy (the worker decides what happens when). */
@Injectable()
export class MailOutboxRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Through `executor` (the caller's transaction), so the row exists iff the caller's change commits. */
  async insert(row: { id: string; template: string; sealed: string }, executor: Database = this.db): Promise<void> {
    await executor.insert(mailOutbox).values(row);
  }

  /**
   * Claims up to `limit` due rows in one statement: their `next_attempt_at` moves `leaseSeconds`
   * ahead, so no other instance (nor this one's next tick) takes them while they are being sent,
   * and a crash mid-send only delays them by the lease. SKIP LOCKED lets instances claim
   * side by side without waiting on each other.
   *
   * Only rows sealed under one of `keyIds` (the box starts with `<keyId>.`) are claimed: a row this
   * instance cannot open belongs to a deployment with other SERVER_SECRETS sharing the database (or
   * to a secret since dropped), and taking it would only count failures until its message is wiped.
   */
  async claim(limit: number, leaseSeconds: number, keyIds: string[]): Promise<MailOutboxRow[]> {
    const due = this.db
      .select({ id: mailOutbox.id })
      .from(mailOutbox)
      .where(
        and(
          isNull(mailOutbox.failedAt),
          lte(mailOutbox.nextAttemptAt, sql`now()`),
          inArray(sql`split_part(${mailOutbox.sealed}, '.', 1)`, keyIds),
        ),
      )
      .orderBy(asc(mailOutbox.nextAttemptAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    return this.db
      .update(mailOutbox)
      .set({ nextAttemptAt: sql`now() + make_interval(secs => ${leaseSeconds})` })
      .where(inArray(mailOutbox.id, due))
      .returning();
  }

  /** Sent: the row (and the sealed message with it) is gone. */
  async delete(id: string): Promise<void> {
    await this.db.delete(mailOutbox).where(eq(mailOutbox.id, id));
  }

  /** A failed attempt: counted, and the row waits `delaySeconds` for the next. */
  async retryLater(id: string, attempts: number, delaySeconds: number, error: string): Promise<void> {
    await this.db
      .update(mailOutbox)
      .set({ attempts, lastError: error, nextAttemptAt: sql`now() + make_interval(secs => ${delaySeconds})` })
      .where(eq(mailOutbox.id, id));
  }

  /** Given up: the row stays for operators to see, its message (link and address) is wiped. */
  async giveUp(id: string, attempts: number, error: string): Promise<void> {
    await this.db
      .update(mailOutbox)
      .set({ attempts, lastError: error, failedAt: sql`now()`, sealed: '' })
      .where(eq(mailOutbox.id, id));
  }
}
