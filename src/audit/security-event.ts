/**
 * Security events (ASVS V16): who did what to which account, from where, and how it ended.
 * Never a password, a token or a cookie: `details` holds reasons and counts only.
 */
export const SECURITY_EVENT_TYPES = [
  'login.succeeded',
  'login.failed',
  /** Emitted by the account-lockout code. */
  'login.locked',
  'refresh.reused',
  'session.revoked',
  'sessions.revoked_all',
  'password.changed',
  'user.updated',
  'bootstrap.admin',
  'email.verification_sent',
  'email.verified',
  /** Requested (a confirmation link to the new address) and done (the link was used): `details.stage`. */
  'email.changed',
  'password.reset_requested',
  'password.reset',
  /** Second factors (auth/mfa/; recorded by the routes that use it): a factor confirmed, removed, a code refused, a recovery code used. */
  'mfa.enabled',
  'mfa.disabled',
  'mfa.failed',
  'recovery_code.used',
  /** Passkeys: one registered (`details.credentialId`, `details.backedUp`), one removed (by its owner). */
  'passkey.added',
  'passkey.removed',
  /** POST /auth/reauthenticate: a new proof of identity for the current session (`details.amr`, `details.acr`, or `details.reason`). */
  'reauthenticated',
] as const;

export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export type SecurityOutcome = 'success' | 'failure';

export interface SecurityEvent {
  /** Made when the event happens, so a retried write (after an outage) is recognised, never doubled. */
  id: string;
  /** When it happened; kept as is when the write is delayed. */
  time: Date;
  type: SecurityEventType;
  /** The account the event is about. */
  userId: string | null;
  /** Who acted, when not the user themself (an admin). */
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  outcome: SecurityOutcome;
  details: Record<string, unknown>;
}

/** Where a request came from, passed from controllers into services (never the request itself). */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
  /** The authenticated caller acting on someone else's account (admin routes). */
  actorId?: string;
}

export interface SecurityEventInput {
  type: SecurityEventType;
  outcome?: SecurityOutcome;
  userId?: string | null;
  sessionId?: string | null;
  details?: Record<string, unknown>;
  context?: RequestContext;
}

/** The Nest event name: `security.<type>`, so `@OnEvent('security.**')` sees them all. */
export const securityEventName = (type: SecurityEventType) => `security.${type}`;

/** Keys that must never be stored or logged, whoever passes them by mistake. */
const SECRET_KEY = /pass|token|secret|cookie|authorization|hash/i;

/** A copy of `details` without secret-looking keys (at any depth) and without non-JSON values. */
export function safeDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!details) return {};
  const clean = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    if (depth > 3) return undefined;
    if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1)).filter((v) => v !== undefined);
    if (typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        if (SECRET_KEY.test(key)) continue;
        const c = clean(v, depth + 1);
        if (c !== undefined) out[key] = c;
      }
      return out;
    }
    return undefined;
  };
  return clean(details, 0) as Record<string, unknown>;
}

/** JSON for the Redis pending list and the in-memory queue. */
export function serializeEvent(event: SecurityEvent): string {
  return JSON.stringify({ ...event, time: event.time.toISOString() });
}

export function parseEvent(raw: string): SecurityEvent | undefined {
  try {
    const value = JSON.parse(raw) as SecurityEvent & { time: string };
    const time = new Date(value.time);
    if (typeof value.id !== 'string' || Number.isNaN(time.getTime()) || typeof value.type !== 'string') return undefined;
    return { ...value, time };
  } catch {
    return undefined;
  }
}
