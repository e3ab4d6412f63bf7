import {
  type NewSession,
  REVOKED_LOGINS_WINDOW_MS,
  type RotationRequest,
  type RotationResult,
  type SessionEnd,
  type SessionInfo,
  type SessionStore,
} from './session-store.js';
import { type AuthenticationContext, decodeAuthentication } from '../tokens/authentication-context.js';

interface MemorySession extends SessionInfo {
  refreshHash: string;
  generation: number;
  /** Sealed successor of the last rotation, and when it stops being served (the grace window). */
  grace?: { sealedSuccessor: string; until: number };
}

/**
 * The session store for a single instance without Redis (development, tests on a fresh machine).
 * Same semantics as RedisSessionStore; JavaScript runs each method to completion between awaits,
 * so every method is atomic here without locks. Expiry is checked on read and swept periodically.
 */
export class MemorySessionStore implements SessionStore {
  private readonly users = new Map<string, Map<string, MemorySession>>();
  /** userId → { sessions ended at, refused until }: see revokeAll. */
  private readonly revokedAt = new Map<string, { at: number; until: number }>();
  private readonly sweeper: NodeJS.Timeout;

  /** `onEnded`: told of every session that ends other than by expiry (the in-process revocation feed). */
  constructor(
    private readonly clock: () => number = Date.now,
    private readonly onEnded: (userId: string, ended: Pick<SessionInfo, 'id' | 'absoluteExpiresAt'>[]) => void = () => undefined,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async create(session: NewSession, maxSessions: number, authenticatedAt: number): Promise<{ stale: boolean; evicted: string[] }> {
    const revoked = this.revokedAt.get(session.userId);
    if (revoked && revoked.until > this.clock() && authenticatedAt < revoked.at) return { stale: true, evicted: [] };
    const sessions = this.liveSessions(session.userId);
    const evicted: string[] = [];
    const byLeastRecentUse = [...sessions.values()].sort((a, b) => a.lastUsedAt - b.lastUsedAt || (a.id < b.id ? -1 : 1));
    const ended: MemorySession[] = [];
    while (sessions.size >= maxSessions) {
      const oldest = byLeastRecentUse.shift()!;
      sessions.delete(oldest.id);
      evicted.push(oldest.id);
      ended.push(oldest);
    }
    this.onEnded(session.userId, ended);
    sessions.set(session.id, { ...session, amr: session.amr && [...session.amr], generation: 0 });
    this.users.set(session.userId, sessions);
    return { stale: false, evicted };
  }

  async isAlive(userId: string, sessionId: string): Promise<boolean> {
    return this.find(userId, sessionId) !== undefined;
  }

  async list(userId: string): Promise<SessionInfo[]> {
    return [...this.liveSessions(userId).values()].map(toInfo).sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  }

  async rotate(request: RotationRequest): Promise<RotationResult> {
    const session = this.find(request.userId, request.sessionId);
    if (!session) return { status: 'invalid' };
    const current = session.generation;
    if (request.generation === current && request.presentedHash === session.refreshHash) {
      session.generation = current + 1;
      session.refreshHash = request.nextHash;
      session.lastUsedAt = request.now;
      session.expiresAt = Math.min(request.now + request.idleTtlMs, session.absoluteExpiresAt);
      session.grace = request.graceMs > 0 ? { sealedSuccessor: request.sealedSuccessor, until: request.now + request.graceMs } : undefined;
      return { status: 'rotated', session: toInfo(session) };
    }
    if (request.generation === current - 1 && session.grace && this.clock() < session.grace.until) {
      return { status: 'grace', session: toInfo(session), sealedSuccessor: session.grace.sealedSuccessor };
    }
    if (request.generation < current) {
      this.users.get(request.userId)?.delete(request.sessionId);
      this.onEnded(request.userId, [session]);
      return { status: 'reused' };
    }
    return { status: 'invalid' };
  }

  async revokeWithRefresh(userId: string, sessionId: string, generation: number, presentedHash: string): Promise<boolean> {
    const session = this.find(userId, sessionId);
    if (!session) return false;
    const current = generation === session.generation && presentedHash === session.refreshHash;
    if (!current && generation >= session.generation) return false;
    this.users.get(userId)!.delete(sessionId);
    this.onEnded(userId, [session]);
    return true;
  }

  async updateAuthentication(
    userId: string,
    sessionId: string,
    context: AuthenticationContext,
    now: number,
  ): Promise<SessionEnd | undefined> {
    const session = this.find(userId, sessionId);
    if (!session || session.expiresAt <= now) return undefined;
    session.authTime = context.authTime;
    session.amr = [...context.amr];
    session.acr = context.acr;
    return { expiresAt: session.expiresAt, absoluteExpiresAt: session.absoluteExpiresAt };
  }

  async revoke(userId: string, sessionId: string): Promise<boolean> {
    const found = this.find(userId, sessionId);
    this.users.get(userId)?.delete(sessionId);
    if (found) this.onEnded(userId, [found]);
    return found !== undefined;
  }

  async revokeAll(userId: string, now: number, exceptSessionId?: string): Promise<number> {
    this.revokedAt.set(userId, { at: now, until: now + REVOKED_LOGINS_WINDOW_MS });
    const sessions = this.liveSessions(userId);
    const ended: MemorySession[] = [];
    for (const [id, session] of [...sessions]) {
      if (id !== exceptSessionId) {
        sessions.delete(id);
        ended.push(session);
      }
    }
    this.onEnded(userId, ended);
    return ended.length;
  }

  /** Stops the sweep timer (tests that create many stores). */
  close(): void {
    clearInterval(this.sweeper);
  }

  async inspectRefresh(
    userId: string,
    sessionId: string,
    generation: number,
    presentedHash: string,
    now: number,
  ): Promise<SessionInfo | undefined> {
    const session = this.users.get(userId)?.get(sessionId);
    if (!session || session.expiresAt <= now) return undefined;
    return generation === session.generation && presentedHash === session.refreshHash ? toInfo(session) : undefined;
  }

  private find(userId: string, sessionId: string): MemorySession | undefined {
    const session = this.users.get(userId)?.get(sessionId);
    if (!session) return undefined;
    if (session.expiresAt <= this.clock()) {
      this.users.get(userId)!.delete(sessionId);
      return undefined;
    }
    return session;
  }

  private liveSessions(userId: string): Map<string, MemorySession> {
    const sessions = this.users.get(userId) ?? new Map<string, MemorySession>();
    const now = this.clock();
    for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
    return sessions;
  }

  private sweep(): void {
    for (const [userId] of this.users) {
      if (this.liveSessions(userId).size === 0) this.users.delete(userId);
    }
    const now = this.clock();
    for (const [userId, revoked] of this.revokedAt) if (revoked.until <= now) this.revokedAt.delete(userId);
  }
}

/** A session stored without authTime/amr/acr (as before they existed) reads as a password login at its creation. */
function toInfo(session: MemorySession): SessionInfo {
  const { id, userId, createdAt, lastUsedAt, expiresAt, absoluteExpiresAt, userAgent, ip } = session;
  const proof =
    session.authTime === undefined || session.amr === undefined || session.acr === undefined
      ? decodeAuthentication(undefined, createdAt)
      : { authTime: session.authTime, amr: [...session.amr], acr: session.acr };
  return { id, userId, createdAt, lastUsedAt, expiresAt, absoluteExpiresAt, userAgent, ip, ...proof };
}
