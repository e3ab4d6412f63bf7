import type { AuthenticationContext } from '../tokens/authentication-context.js';

/**
 * What the sessions page shows, and what the policy reads; timestamps are epoch milliseconds.
 * `authTime`, `amr`, `acr`: how the user last proved who they are in this session (set at login,
 * changed only by updateAuthentication; a session stored before they existed reads as a password
 * login at its creation).
 */
export interface SessionInfo extends AuthenticationContext {
  id: string;
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  /** When the session ends unless refreshed again: min(idle expiry, absolute expiry). */
  expiresAt: number;
  /** Absolute end of the session; never moves. */
  absoluteExpiresAt: number;
  userAgent: string;
  ip: string;
}

/** When a session ends (epoch ms): an access token for it must not outlive the earlier of the two. */
export type SessionEnd = Pick<SessionInfo, 'expiresAt' | 'absoluteExpiresAt'>;

export interface NewSession extends SessionInfo {
  /** Hash of the first refresh token of the chain (generation 0); the token itself is never stored. */
  refreshHash: string;
}

/**
 * Stores receive only *genuine* refresh tokens (their tag verified by RefreshTokenCodec): a
 * genuine token of an older generation than the session's current one is therefore reuse.
 */
export interface RotationRequest {
  userId: string;
  sessionId: string;
  /** Generation of the presented token; the successor is generation + 1. */
  generation: number;
  presentedHash: string;
  nextHash: string;
  /** The successor token, sealed (encrypted) by the caller; kept for the grace window only. */
  sealedSuccessor: string;
  now: number;
  idleTtlMs: number;
  graceMs: number;
}

export type RotationResult =
  /** The presented token was current: it is now the previous one, `nextHash` is current. */
  | { status: 'rotated'; session: SessionInfo }
  /** The presented token was rotated moments ago: here is the same successor again. */
  | { status: 'grace'; session: SessionInfo; sealedSuccessor: string }
  /** An older token of the chain (outside the grace window): the session has been ended. */
  | { status: 'reused' }
  /** No such live session, or a token that is not the chain's: nothing changed. */
  | { status: 'invalid' }
  /** The store got the request after the caller's deadline had passed: nothing changed (answer 503). */
  | { status: 'late' };

/**
 * Where sessions live. Implementations hold no policy: lifetimes, caps and the grace window come
 * from the caller. Every method is atomic with respect to concurrent callers on any instance.
 */
export interface SessionStore {
  /**
   * Stores a new session; when the user already has `maxSessions` live ones, ends the least recently
   * used. Refused (`stale`) when the user's sessions were all ended after `authenticatedAt`: a login
   * that checked the password just before a password change or a disable must not survive it.
   */
  create(session: NewSession, maxSessions: number, authenticatedAt: number): Promise<{ stale: boolean; evicted: string[] }>;
  /** The per-request check: does this session still exist (not ended, not expired)? */
  isAlive(userId: string, sessionId: string): Promise<boolean>;
  /** Live sessions of a user, most recently used first. */
  list(userId: string): Promise<SessionInfo[]>;
  /** Compare-and-swap rotation of the refresh token, with reuse detection. */
  rotate(request: RotationRequest): Promise<RotationResult>;
  /** Ends the session for any genuine token of its chain: the current one (hash checked) or an older one. */
  revokeWithRefresh(userId: string, sessionId: string, generation: number, presentedHash: string): Promise<boolean>;
  /**
   * Records a new proof of identity (reauthentication) on one live session: replaces its
   * authTime, amr and acr, nothing else. Returns when the session ends (for the access token's
   * `exp`), or undefined when it is not alive (nothing changed).
   */
  updateAuthentication(userId: string, sessionId: string, context: AuthenticationContext, now: number): Promise<SessionEnd | undefined>;
  /** Ends one session; false when it did not exist. */
  revoke(userId: string, sessionId: string): Promise<boolean>;
  /**
   * Ends every session of the user except `exceptSessionId`, and refuses for a while (see create)
   * any session whose login was authenticated before `now`. Returns how many ended.
   */
  revokeAll(userId: string, now: number, exceptSessionId?: string): Promise<number>;
  /**
   * Read-only (introspection): the session, when the presented genuine refresh token is its
   * current one and it is alive at `now`; else undefined. Never rotates, never ends a session.
   */
  inspectRefresh(
    userId: string,
    sessionId: string,
    generation: number,
    presentedHash: string,
    now: number,
  ): Promise<SessionInfo | undefined>;
}

export const SESSION_STORE = Symbol('SESSION_STORE');

/** How long a revokeAll keeps refusing logins authenticated before it: far longer than any login takes. */
export const REVOKED_LOGINS_WINDOW_MS = 5 * 60_000;
