import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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
    /** Proven by a link mailed to `email`; accounts that existed before verification start unverified. */
    emailVerified: boolean('email_verified').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    /** When an admin last changed the roles (null: never): access tokens minted before it carry old roles. */
    rolesChangedAt: timestamp('roles_changed_at', { withTimezone: true }),
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

/** What a mailed link may do; a token is only ever accepted for its own purpose. */
export type LinkPurpose = 'verify_email' | 'reset_password' | 'change_email';

/**
 * Mailed link tokens, one live link per user and purpose: making a new one replaces the row, so
 * only the newest link works. Only an HMAC of the token is stored (under SERVER_SECRETS); `email`
 * is the address the link was sent to, which the link is bound to (for `change_email`, the new one).
 */
export const linkTokens = pgTable(
  'link_tokens',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').$type<LinkPurpose>().notNull(),
    tokenHash: text('token_hash').notNull(),
    email: text('email').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.purpose] }), uniqueIndex('link_tokens_token_hash_key').on(table.tokenHash)],
);

export type LinkTokenRow = typeof linkTokens.$inferSelect;

/**
 * Mail waiting to be sent (a durable outbox): written in the same transaction as whatever caused
 * it, sent by a worker on every instance (rows claimed with FOR UPDATE SKIP LOCKED), retried with
 * backoff, deleted once sent. The message itself is sealed (AES-256-GCM under SERVER_SECRETS):
 * it carries link tokens, which must never rest in the clear.
 */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Which template made it, for logs (not secret). */
    template: text('template').notNull(),
    sealed: text('sealed').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    /** Set when the worker gave up: the row stays for operators, its message is wiped. */
    failedAt: timestamp('failed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('mail_outbox_due_idx').on(table.nextAttemptAt)],
);

export type MailOutboxRow = typeof mailOutbox.$inferSelect;

/**
 * A user's TOTP factor (RFC 6238), at most one. `secret` is the base32 secret sealed with
 * AES-256-GCM under SERVER_SECRETS (purpose `totp-secret`, the user id as authenticated context,
 * so a box copied to another user's row does not open): the server must compute codes, so the
 * secret cannot be hashed, and a copy of the database alone cannot read it. Pending (enrolled, not
 * yet proven by a code) while `confirmed_at` is null. `last_used_step` is the newest 30-s step a
 * code was accepted for: a code of that step or an older one is refused, which makes each code
 * single-use across every instance (the check and the write are one conditional UPDATE).
 */
export const totpFactors = pgTable('totp_factors', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  secret: text('secret').notNull(),
  confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
  lastUsedStep: integer('last_used_step'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export type TotpFactorRow = typeof totpFactors.$inferSelect;

/**
 * Single-use recovery codes: only an HMAC of the normalised code (under SERVER_SECRETS, purpose
 * `recovery-code`, bound to the user id) is stored; a code is used up by deleting its row.
 */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.codeHash] })],
);

export type RecoveryCodeRow = typeof recoveryCodes.$inferSelect;

/**
 * Passkeys (WebAuthn credentials). `id` is the credential id (base64url), unique across all users:
 * a credential can never belong to two accounts, and a passwordless login finds its owner by it.
 * `public_key` is the COSE public key (base64url); `counter` the last signature counter seen (0 for
 * authenticators that do not count); `backed_up` the backup state (BS flag) of the last ceremony.
 */
export const webauthnCredentials = pgTable(
  'webauthn_credentials',
  {
    id: text('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    publicKey: text('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: text('transports')
      .array()
      .notNull()
      .default(sql`ARRAY[]::text[]`),
    /** `singleDevice` or `multiDevice` (the BE flag at registration). */
    deviceType: text('device_type').$type<'singleDevice' | 'multiDevice'>().notNull(),
    backedUp: boolean('backed_up').notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (table) => [index('webauthn_credentials_user_idx').on(table.userId, table.createdAt)],
);

export type WebauthnCredentialRow = typeof webauthnCredentials.$inferSelect;
