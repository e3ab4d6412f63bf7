import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig } from '../../config/configuration.js';
import type { AuthenticationContext } from '../tokens/authentication-context.js';
import { hashSecret, isSessionId, newSessionId, type RefreshToken, RefreshTokenCodec, SuccessorSealer } from '../tokens/refresh-token.js';
import { SESSION_STORE, type SessionEnd, type SessionInfo, type SessionStore } from './session-store.js';

export interface ClientInfo {
  userAgent: string;
  ip: string;
}

export interface StartedSession {
  session: SessionInfo;
  /** The raw refresh token: handed to the client once, never stored or logged. */
  refreshToken: string;
  /** Sessions the per-user cap ended to make room for this one. */
  evicted: string[];
}

/** What a rotation came to; a refreshed session comes with the refresh token to hand out. */
export type Rotation =
  | { status: 'rotated'; session: SessionInfo; refreshToken: string }
  /** The same successor again; undefined if its server secret left the ring within the window. */
  | { status: 'grace'; session: SessionInfo; refreshToken: string | undefined }
  | { status: 'reused' | 'invalid' | 'late' };

/** Session policy: lifetimes, the per-user cap, rotation; the one owner of the store, which only stores. */
@Injectable()
export class SessionService {
  constructor(
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly refreshTokens: RefreshTokenCodec,
    private readonly sealer: SuccessorSealer,
  ) {}

  /**
   * Starts a session (ending the least recently used one beyond MAX_SESSIONS_PER_USER).
   * `authentication`: what the login proved, and when (`authTime`: when the credentials were
   * checked); undefined if every session of the user was ended since `provedSince` (by default
   * `authTime`; a login in two steps passes when the password was checked): a password change or
   * a disable raced this login.
   */
  async start(
    userId: string,
    client: ClientInfo,
    authentication: AuthenticationContext,
    provedSince: number = authentication.authTime,
  ): Promise<StartedSession | undefined> {
    const now = Date.now();
    const sessionId = newSessionId();
    const first = this.refreshTokens.mint(userId, sessionId, 0);
    const absoluteExpiresAt = now + this.auth.sessionMaxLifetime * 1000;
    const session: SessionInfo = {
      id: sessionId,
      userId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: Math.min(now + this.auth.refreshTokenTtl * 1000, absoluteExpiresAt),
      absoluteExpiresAt,
      userAgent: client.userAgent,
      ip: client.ip,
      authTime: authentication.authTime,
      amr: [...authentication.amr],
      acr: authentication.acr,
    };
    const { stale, evicted } = await this.store.create(
      { ...session, refreshHash: hashSecret(first.secret) },
      this.auth.maxSessionsPerUser,
      provedSince,
    );
    return stale ? undefined : { session, refreshToken: first.token, evicted };
  }

  /** A presented refresh token, if this server minted it (its server tag verifies); else undefined. */
  readRefreshToken(presented: unknown): RefreshToken | undefined {
    return this.refreshTokens.read(presented);
  }

  /**
   * Exchanges a genuine refresh token for its successor. The store does the compare-and-swap
   * atomically; the successor is sealed for the grace window, so a retry gets the same one.
   */
  async rotate(token: RefreshToken): Promise<Rotation> {
    const { userId, sessionId, generation } = token;
    const successor = this.refreshTokens.mint(userId, sessionId, generation + 1);
    const result = await this.store.rotate({
      userId,
      sessionId,
      generation,
      presentedHash: hashSecret(token.secret),
      nextHash: hashSecret(successor.secret),
      sealedSuccessor: this.sealer.seal(successor.token, sessionId),
      now: Date.now(),
      idleTtlMs: this.auth.refreshTokenTtl * 1000,
      graceMs: this.auth.refreshReuseGraceSeconds * 1000,
    });
    switch (result.status) {
      case 'rotated':
        return { status: 'rotated', session: result.session, refreshToken: successor.token };
      case 'grace':
        return { status: 'grace', session: result.session, refreshToken: this.sealer.open(result.sealedSuccessor, sessionId) };
      default:
        return result;
    }
  }

  isAlive(userId: string, sessionId: string): Promise<boolean> {
    return this.store.isAlive(userId, sessionId);
  }

  /** Records a reauthentication on one live session; false when it has ended. */
  updateAuthentication(userId: string, sessionId: string, authentication: AuthenticationContext): Promise<SessionEnd | undefined> {
    return isSessionId(sessionId)
      ? this.store.updateAuthentication(userId, sessionId, authentication, Date.now())
      : Promise.resolve(undefined);
  }

  list(userId: string): Promise<SessionInfo[]> {
    return this.store.list(userId);
  }

  /** Only well-formed session ids reach the store: an id is never a way to name other keys. */
  async revoke(userId: string, sessionId: string): Promise<boolean> {
    return isSessionId(sessionId) && this.store.revoke(userId, sessionId);
  }

  /** Ends every session of the user (but `exceptSessionId`), including logins in flight. */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    return this.store.revokeAll(userId, Date.now(), exceptSessionId);
  }

  /**
   * Ends the session a genuine refresh token belongs to (its current token, or an older one:
   * reuse). Which session it was, or undefined when nothing ended.
   */
  async revokeWithRefreshToken(refreshToken: unknown): Promise<{ userId: string; sessionId: string } | undefined> {
    const token = this.refreshTokens.read(refreshToken);
    if (!token) return undefined;
    const ended = await this.store.revokeWithRefresh(token.userId, token.sessionId, token.generation, hashSecret(token.secret));
    return ended ? { userId: token.userId, sessionId: token.sessionId } : undefined;
  }

  /**
   * Read-only (introspection): the live session whose *current* refresh token this is, else
   * undefined (forged, unknown, expired, ended, or an older token of the chain). Rotates nothing
   * and ends nothing, whatever was presented.
   */
  async inspectRefreshToken(presented: unknown): Promise<SessionInfo | undefined> {
    const token = this.refreshTokens.read(presented);
    if (!token) return undefined;
    return this.store.inspectRefresh(token.userId, token.sessionId, token.generation, hashSecret(token.secret), Date.now());
  }
}
