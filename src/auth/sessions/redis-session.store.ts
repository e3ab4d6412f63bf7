import type { LuaScript, RedisService } from '../../redis/redis.service.js';
import type { RedisRevocationLog } from '../../revocations/revocation-log.js';
import { isUuid } from '../../common/ids.js';
import {
  CREATE_SESSION,
  LIST_SESSIONS,
  REVOKE_ALL_SESSIONS,
  REVOKE_SESSION,
  REVOKE_WITH_REFRESH,
  ROTATE_SESSION,
  UPDATE_AUTHENTICATION,
  INSPECT_REFRESH,
} from './redis-session.scripts.js';
import { type AuthenticationContext, decodeAuthentication, encodeAuthentication } from '../tokens/authentication-context.js';
import {
  type NewSession,
  REVOKED_LOGINS_WINDOW_MS,
  type RotationRequest,
  type RotationResult,
  type SessionEnd,
  type SessionInfo,
  type SessionStore,
} from './session-store.js';

/** Recently used users' index keys: computing one is most of the per-request store check's own cost. */
const indexKeys = new Map<string, string>();

/** The user id in key names: a UUID's 16 bytes as 22 base64url characters (other ids as they are). */
function compactUserId(userId: string): string {
  return isUuid(userId) ? Buffer.from(userId.replace(/-/g, ''), 'hex').toString('base64url') : userId;
}

/** `s:{U}`: the user's session index; session keys extend it (`s:{U}:<sid>`), see redis-session.scripts.ts. */
export function indexKey(userId: string): string {
  let key = indexKeys.get(userId);
  if (key === undefined) {
    if (indexKeys.size >= 10_000) indexKeys.delete(indexKeys.keys().next().value!);
    key = `s:{${compactUserId(userId)}}`;
    indexKeys.set(userId, key);
  }
  return key;
}
export const sessionKey = (userId: string, sessionId: string) => `${indexKey(userId)}:${sessionId}`;

/** Sessions in Redis: every multi-key change is one Lua script, so it is atomic across instances. */
export class RedisSessionStore implements SessionStore {
  /**
   * `untilCap(now)`: the latest `exp` (epoch s) an access token issued before `now` can have, plus
   * the clock tolerance; a revocation event's `until` is the lesser of it and the session's absolute
   * end plus `toleranceSeconds` (see sessionUntil).
   */
  constructor(
    private readonly redis: RedisService,
    private readonly revocations: RedisRevocationLog,
    private readonly untilCap: (nowMs: number) => number,
    private readonly toleranceSeconds: number,
  ) {}

  /**
   * Runs a script that may end sessions: KEYS idx and the slot's revocation outbox, ARGV followed by
   * what its events need (see ENDED in redis-session.scripts.ts); then, when `endedSome(reply)`,
   * relays its events to the feed (the ≤50 ms path; the sweeper is the fallback).
   */
  private async ending(
    script: LuaScript,
    userId: string,
    args: string[],
    endedSome: (reply: unknown) => boolean,
    options: { durable?: boolean } = {},
  ): Promise<unknown> {
    const idx = indexKey(userId);
    const outbox = this.revocations.outboxFor(idx);
    const op = this.revocations.newOperation();
    const now = Date.now();
    const reply = await this.redis.eval(
      script,
      [idx, outbox],
      [...args, userId, String(this.untilCap(now)), String(this.toleranceSeconds), String(now), op],
      options,
    );
    if (endedSome(reply)) await this.revocations.relay(outbox, op);
    return reply;
  }

  async create(session: NewSession, maxSessions: number, authenticatedAt: number): Promise<{ stale: boolean; evicted: string[] }> {
    const [status, ...evicted] = (await this.ending(
      CREATE_SESSION,
      session.userId,
      [
        session.id,
        String(session.lastUsedAt),
        String(session.createdAt),
        String(session.expiresAt),
        String(session.absoluteExpiresAt),
        session.refreshHash,
        session.ip,
        String(maxSessions),
        ...userAgentPieces(session.userAgent),
        String(authenticatedAt),
        encodeAuthentication(session),
      ],
      (reply) => (reply as string[]).length > 1 && (reply as string[])[0] === 'created',
      { durable: true },
    )) as string[];
    return { stale: status === 'stale', evicted };
  }

  /** One HGET, served from the client-side cache while the session is unchanged (see RedisService). */
  isAlive(userId: string, sessionId: string): Promise<boolean> {
    const key = sessionKey(userId, sessionId);
    return this.redis.run(async (client) => {
      const expiresAt = await client.hGet(key, 'e');
      return expiresAt !== null && Number(expiresAt) > Date.now();
    }, key);
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const rows = (await this.redis.eval(LIST_SESSIONS, [indexKey(userId)], [])) as string[][];
    return rows.map((row) => toInfo(userId, row));
  }

  async rotate(request: RotationRequest): Promise<RotationResult> {
    const reply = (await this.ending(
      ROTATE_SESSION,
      request.userId,
      [
        request.sessionId,
        String(request.generation),
        request.presentedHash,
        request.nextHash,
        request.sealedSuccessor,
        String(request.now),
        String(request.idleTtlMs),
        String(request.graceMs),
        String(this.redis.serverDeadline(indexKey(request.userId))),
      ],
      (reply) => (reply as string[])[0] === 'reused',
      { durable: true },
    )) as string[];
    const [status, ...fields] = reply;
    const session = () => toInfo(request.userId, [request.sessionId, ...fields.slice(0, 9)]);
    switch (status) {
      case 'rotated':
        return { status, session: session() };
      case 'grace':
        return { status, session: session(), sealedSuccessor: fields[9] };
      case 'reused':
      case 'late':
        return { status };
      default:
        return { status: 'invalid' };
    }
  }

  async revokeWithRefresh(userId: string, sessionId: string, generation: number, presentedHash: string): Promise<boolean> {
    return (await this.ending(REVOKE_WITH_REFRESH, userId, [sessionId, String(generation), presentedHash], (reply) => reply === 1)) === 1;
  }

  async updateAuthentication(
    userId: string,
    sessionId: string,
    context: AuthenticationContext,
    now: number,
  ): Promise<SessionEnd | undefined> {
    const args = [sessionId, String(now), encodeAuthentication(context)];
    const reply = (await this.redis.eval(UPDATE_AUTHENTICATION, [indexKey(userId)], args)) as [string, string] | number;
    return Array.isArray(reply) ? { expiresAt: Number(reply[0]), absoluteExpiresAt: Number(reply[1]) } : undefined;
  }

  async revoke(userId: string, sessionId: string): Promise<boolean> {
    return (await this.ending(REVOKE_SESSION, userId, [sessionId], (reply) => reply === 1)) === 1;
  }

  async revokeAll(userId: string, now: number, exceptSessionId?: string): Promise<number> {
    const args = [exceptSessionId ?? '', String(now), String(REVOKED_LOGINS_WINDOW_MS)];
    return (await this.ending(REVOKE_ALL_SESSIONS, userId, args, (reply) => Number(reply) > 0)) as number;
  }

  async inspectRefresh(
    userId: string,
    sessionId: string,
    generation: number,
    presentedHash: string,
    now: number,
  ): Promise<SessionInfo | undefined> {
    const args = [sessionId, String(generation), presentedHash, String(now)];
    const row = (await this.redis.eval(INSPECT_REFRESH, [indexKey(userId)], args)) as string[];
    return row.length === 0 ? undefined : toInfo(userId, [sessionId, ...row]);
  }
}

/** Redis keeps a hash compact (listpack) only while every value is at most 64 bytes. */
const PIECE = 64;

/** The user agent (printable ASCII, at most 192 characters: see clientInfo) in three listpack-sized pieces. */
function userAgentPieces(userAgent: string): [string, string, string] {
  return [userAgent.slice(0, PIECE), userAgent.slice(PIECE, 2 * PIECE), userAgent.slice(2 * PIECE, 3 * PIECE)];
}

/** row: [sid, created, lastUsed, expires, absoluteExpires, ip, ua, ua2, ua3, proof] */
function toInfo(userId: string, row: string[]): SessionInfo {
  const createdAt = Number(row[1]);
  return {
    ...decodeAuthentication(row[9], createdAt),
    id: row[0],
    userId,
    createdAt,
    lastUsedAt: Number(row[2]),
    expiresAt: Number(row[3]),
    absoluteExpiresAt: Number(row[4]),
    ip: row[5],
    userAgent: row[6] + row[7] + row[8],
  };
}
