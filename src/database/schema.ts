import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Trimmed and lower-cased before it is stored; unique. */
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`ARRAY['user']::text[]`),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('users_email_key').on(table.email)],
);

export type UserRow = typeof users.$inferSelect;
export type NewUserRow = typeof users.$inferInsert;

/**
 * Security events (ASVS V16). No foreign keys: events outlive the rows they mention, and an event
 * parked in Redis during an outage must insert whatever happened meanwhile. The id is made by the
 * app when the event happens, so a retried write is recognised (ON CONFLICT (id) DO NOTHING).
 */
export const securityEvents = pgTable(
  'security_events',
  {
    id: uuid('id').primaryKey(),
    time: timestamp('time', { withTimezone: true }).notNull(),
    type: text('type').notNull(),
    userId: uuid('user_id'),
    actorId: uuid('actor_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    sessionId: text('session_id'),
    outcome: text('outcome').$type<'success' | 'failure'>().notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (table) => [
    // Newest first, for the admin list and retention; (user, newest first) for a user's activity.
    index('security_events_time_id_idx').on(table.time.desc(), table.id.desc()),
    index('security_events_user_time_idx').on(table.userId, table.time.desc()),
  ],
);

export type SecurityEventRow = typeof securityEvents.$inferSelect;
