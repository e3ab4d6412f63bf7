import type { AccessTokenClaims } from './claims.js';

/** An event of Tessera's revocation feed (`event: revocation`, JSON data). */
export type RevocationEvent =
  { type: 'session'; sid: string; sub: string; until: number } | { type: 'user'; sub: string; notBefore: number };

/** The event in `data`, or undefined when it is not one this version understands. */
export function parseRevocation(data: string): RevocationEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as Record<string, unknown>;
  if (event.type === 'session' && typeof event.sid === 'string' && typeof event.sub === 'string' && Number.isFinite(event.until))
    return { type: 'session', sid: event.sid, sub: event.sub, until: event.until as number };
  if (event.type === 'user' && typeof event.sub === 'string' && Number.isFinite(event.notBefore))
    return { type: 'user', sub: event.sub, notBefore: event.notBefore as number };
  return undefined;
}

/**
 * What the feed said was revoked, in memory, bounded by token lifetimes: an ended session until
 * the latest expiry its access tokens can have (`until`), a user's `notBefore` until every token
 * issued before it has expired. Asked on every request (never cached with the verified token).
 */
export class RevocationSet {
  /** sid → the time the entry is kept until (epoch seconds): max(until, received + maxTokenLifetime). */
  private readonly sessions = new Map<string, number>();
  /** sub → notBefore (epoch seconds). */
  private readonly users = new Map<string, number>();

  /**
   * @param clockToleranceSeconds the leeway tokens are verified with: an entry lives that much longer.
   * @param maxTokenLifetimeSeconds the longest access-token lifetime accepted (bounds a user entry).
   */
  constructor(
    private readonly clockToleranceSeconds: number,
    private readonly maxTokenLifetimeSeconds: number,
  ) {}

  /** @param receivedAtMs when the event arrived (wall clock). */
  apply(event: RevocationEvent, receivedAtMs = Date.now()): void {
    if (event.type === 'session') {
      // `until` is Tessera's word, but a past one (a bug, an old event replayed after `reset`, a
      // skewed clock) must not let the session's still-unexpired tokens work again: the entry also
      // lives until every token this service accepts could have expired since it arrived.
      const keepUntil = Math.max(event.until, receivedAtMs / 1000 + this.maxTokenLifetimeSeconds);
      this.sessions.set(event.sid, Math.max(keepUntil, this.sessions.get(event.sid) ?? 0));
    } else {
      this.users.set(event.sub, Math.max(event.notBefore, this.users.get(event.sub) ?? 0));
    }
  }

  isRevoked(claims: Pick<AccessTokenClaims, 'sid' | 'sub' | 'iat'>): boolean {
    if (this.sessions.has(claims.sid)) return true;
    const notBefore = this.users.get(claims.sub);
    return notBefore !== undefined && claims.iat < notBefore;
  }

  /** Drops entries no live token can match any more. */
  prune(nowMs = Date.now()): void {
    const now = nowMs / 1000;
    for (const [sid, until] of this.sessions) if (until + this.clockToleranceSeconds < now) this.sessions.delete(sid);
    for (const [sub, notBefore] of this.users)
      if (notBefore + this.maxTokenLifetimeSeconds + this.clockToleranceSeconds < now) this.users.delete(sub);
  }

  get size(): { sessions: number; users: number } {
    return { sessions: this.sessions.size, users: this.users.size };
  }
}
