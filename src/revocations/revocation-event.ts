/** What the revocation feed carries (docs/api.md, "The revocation feed"). */
export type RevocationEvent =
  /** A session ended: its access tokens (exp ≤ `until`, epoch seconds) are void. */
  | { type: 'session'; sid: string; sub: string; until: number }
  /** The user's roles changed: their access tokens issued (`iat`) before `notBefore` are void. */
  | { type: 'user'; sub: string; notBefore: number };

/** One event at its position in the feed (a Redis Stream entry id, `<ms>-<seq>`). */
export interface FeedEntry {
  id: string;
  event: RevocationEvent;
}

const ENTRY_ID = /^(\d{1,15})-(\d{1,15})$/;

/** A feed position as the client sent it: undefined when it is not one (answered 400). */
export function parseEntryId(value: string): [number, number] | undefined {
  const match = ENTRY_ID.exec(value);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** Orders two valid feed positions. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = parseEntryId(a)!;
  const [bm, bs] = parseEntryId(b)!;
  return am - bm || as - bs;
}

/** The position before every entry: resuming from it is starting from what is kept, without a reset. */
export const FEED_START = '0-0';

/** How long the feed keeps an event: as long as the access tokens it concerns can live, plus a margin. */
export function retentionMs(accessTokenTtlSeconds: number, clockToleranceSeconds: number): number {
  return (accessTokenTtlSeconds + clockToleranceSeconds) * 1000 + 60_000;
}

/** Parses an event as stored (outbox or stream), dropping the outbox's bookkeeping fields. */
export function toEvent(json: string): RevocationEvent | undefined {
  try {
    const value = JSON.parse(json) as Record<string, unknown>;
    if (value.type === 'session' && typeof value.sid === 'string' && typeof value.sub === 'string' && typeof value.until === 'number') {
      return { type: 'session', sid: value.sid, sub: value.sub, until: value.until };
    }
    if (value.type === 'user' && typeof value.sub === 'string' && typeof value.notBefore === 'number') {
      return { type: 'user', sub: value.sub, notBefore: value.notBefore };
    }
  } catch {
    // not an event: skipped below
  }
  return undefined;
}
