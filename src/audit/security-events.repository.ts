import { Inject, Injectable } from '@nestjs/common';
import { and, desc, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import { DATABASE, type Database } from '../database/database.js';
import { securityEvents, type SecurityEventRow } from '../database/schema.js';
import type { SecurityEvent, SecurityEventType } from './security-event.js';

export interface SecurityEventFilter {
  userId?: string;
  type?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Only events strictly older than this position (time, id): the keyset cursor. */
  before?: { time: Date; id: string };
}

/** Storage of security events; no policy here. */
@Injectable()
export class SecurityEventsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Idempotent: an event already written (a retry after a timeout, a second flusher) is skipped. */
  async insert(events: SecurityEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insert(securityEvents)
      .values(events.map((e) => ({ ...e })))
      .onConflictDoNothing({ target: securityEvents.id });
  }

  /** Newest first on (time, id), which the (time desc, id desc) index serves. */
  async list(filter: SecurityEventFilter, limit: number): Promise<SecurityEvent[]> {
    const conditions: SQL[] = [];
    if (filter.userId) conditions.push(eq(securityEvents.userId, filter.userId));
    if (filter.type) conditions.push(eq(securityEvents.type, filter.type));
    if (filter.since) conditions.push(gte(securityEvents.time, filter.since));
    if (filter.until) conditions.push(lt(securityEvents.time, filter.until));
    if (filter.before) {
      conditions.push(
        sql`(${securityEvents.time}, ${securityEvents.id}) < (${filter.before.time.toISOString()}::timestamptz, ${filter.before.id}::uuid)`,
      );
    }
    const rows = await this.db
      .select()
      .from(securityEvents)
      .where(conditions.length > 0 ? and(...conditions) : undefined)
      .orderBy(desc(securityEvents.time), desc(securityEvents.id))
      .limit(limit);
    return rows.map(toEvent);
  }

  /** Deletes events older than `cutoff`, a batch at a time so a large backlog never holds a long lock. */
  async deleteOlderThan(cutoff: Date, batchSize = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.db.execute(
        sql`DELETE FROM ${securityEvents} WHERE ${securityEvents.id} IN (SELECT ${securityEvents.id} FROM ${securityEvents} WHERE ${securityEvents.time} < ${cutoff.toISOString()}::timestamptz LIMIT ${batchSize}) RETURNING 1`,
      );
      const count = rowCount(deleted);
      total += count;
      if (count < batchSize) return total;
    }
  }
}

/** node-postgres and PGlite report affected rows differently; RETURNING makes both list them. */
function rowCount(result: unknown): number {
  const r = result as { rows?: unknown[]; affectedRows?: number; rowCount?: number };
  return r.rows?.length ?? r.affectedRows ?? r.rowCount ?? 0;
}

function toEvent(row: SecurityEventRow): SecurityEvent {
  return {
    id: row.id,
    time: row.time,
    type: row.type as SecurityEventType,
    userId: row.userId,
    actorId: row.actorId,
    ip: row.ip,
    userAgent: row.userAgent,
    sessionId: row.sessionId,
    outcome: row.outcome,
    details: row.details,
  };
}
