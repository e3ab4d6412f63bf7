import type { RedisService } from '../../redis/redis.service.js';
import {
  CREATE_SESSION,
  LIST_SESSIONS,
  REVOKE_ALL_SESSIONS,
  REVOKE_SESSION,
  REVOKE_WITH_REFRESH,
  ROTATE_SESSION,
} from './redis-session.scripts.js';
import { type NewSession, type RotationRequest, type RotationResult, type SessionInfo, type SessionStore } from './session-store.js';

const prefixOf = (userId: string) => `sess:{${userId}}:`;
const indexKey = (userId: string) => `${prefixOf(userId)}idx`;
const sessionKey = (userId: string, sessionId: string) => `${prefixOf(userId)}s:${sessionId}`;

/** Sessions in Redis: every multi-key change is one Lua script, so it is atomic across instances. */
export class RedisSessionStore implements SessionStore {
  constructor(private readonly redis: RedisService) {}

  async create(session: NewSession, maxSessions: number): Promise<{ evicted: string[] }> {
    const evicted = (await this.redis.eval(
      CREATE_SESSION,
      [indexKey(session.userId)],
      [
        prefixOf(session.userId),
        session.id,
        String(session.lastUsedAt),
        String(session.createdAt),
        String(session.expiresAt),
        String(session.absoluteExpiresAt),
        session.refreshHash,
        session.userAgent,
        session.ip,
        String(maxSessions),
      ],
    )) as string[];
    return { evicted };
  }

  isAlive(userId: string, sessionId: string): Promise<boolean> {
    return this.redis.run(async (client) => (await client.exists(sessionKey(userId, sessionId))) === 1);
  }

  async get(userId: string, sessionId: string): Promise<SessionInfo | null> {
    const fields = await this.redis.run((client) => client.hmGet(sessionKey(userId, sessionId), ['c', 'u', 'e', 'a', 'ua', 'ip']));
    if (fields[0] === null) return null;
    return toInfo(userId, [sessionId, ...(fields as string[])]);
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const rows = (await this.redis.eval(LIST_SESSIONS, [indexKey(userId)], [prefixOf(userId)])) as string[][];
    return rows.map((row) => toInfo(userId, row));
  }

  async rotate(request: RotationRequest): Promise<RotationResult> {
    const reply = (await this.redis.eval(
      ROTATE_SESSION,
      [indexKey(request.userId)],
      [
        prefixOf(request.userId),
        request.sessionId,
        request.presentedHash,
        request.nextHash,
        request.sealedSuccessor,
        String(request.now),
        String(request.idleTtlMs),
        String(request.graceMs),
      ],
    )) as string[];
    const [status, ...fields] = reply;
    const session = () => toInfo(request.userId, [request.sessionId, ...fields.slice(0, 6)]);
    switch (status) {
      case 'rotated':
        return { status, session: session() };
      case 'grace':
        return { status, session: session(), sealedSuccessor: fields[6] };
      case 'reused':
        return { status };
      default:
        return { status: 'invalid' };
    }
  }

  async revokeWithRefresh(userId: string, sessionId: string, presentedHash: string): Promise<boolean> {
    return (await this.redis.eval(REVOKE_WITH_REFRESH, [indexKey(userId)], [prefixOf(userId), sessionId, presentedHash])) === 1;
  }

  async revoke(userId: string, sessionId: string): Promise<boolean> {
    return (await this.redis.eval(REVOKE_SESSION, [indexKey(userId)], [prefixOf(userId), sessionId])) === 1;
  }

  async revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    return (await this.redis.eval(REVOKE_ALL_SESSIONS, [indexKey(userId)], [prefixOf(userId), exceptSessionId ?? ''])) as number;
  }
}

/** row: [sid, created, lastUsed, expires, absoluteExpires, userAgent, ip] */
function toInfo(userId: string, row: string[]): SessionInfo {
  return {
    id: row[0],
    userId,
    createdAt: Number(row[1]),
    lastUsedAt: Number(row[2]),
    expiresAt: Number(row[3]),
    absoluteExpiresAt: Number(row[4]),
    userAgent: row[5],
    ip: row[6],
  };
}
