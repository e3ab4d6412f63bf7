import { luaScript } from '../../redis/redis.service.js';

/*
 * Key layout for one user, U = the user id in 22 base64url characters. Every key carries the hash
 * tag {U}, so each script touches one slot and runs on Redis Cluster too:
 *   s:{U}            ZSET    sessionId -> lastUsedAt (ms): LRU order for the cap, the sessions list
 *   s:{U}:<sid>      HASH    c created, e expiresAt, a absoluteExpiresAt (ms), ip,
 *                            ua/ua2/ua3 the user agent in pieces of at most 64 bytes,
 *                            h hash of the current refresh token, n its generation,
 *                            p how the user last proved who they are: "<authTime ms> <amr,...> <aal>",
 *                            e.g. "miew3aaz pwd 1" (absent in sessions older than it: read as
 *                            a password login at c; see decodeAuthentication);
 *                            PEXPIREAT = e. The per-request check reads `e` (HGET, answered from the
 *                            client-side cache) rather than EXISTS: expiry sends no invalidation
 *                            until Redis reclaims the key, but `e` says when the session ended.
 *   s:{U}:<sid>:g    STRING  the sealed successor of the last rotation (PX = grace window)
 *   s:{U}:nbf        STRING  when all sessions were last ended (revokeAll): logins authenticated
 *                            before it are refused (PX = REVOKED_LOGINS_WINDOW_MS)
 * Tokens carry their generation and a server tag (RefreshTokenCodec), and scripts only ever see
 * genuine ones: a generation below n is an older token of the chain, so the chain's history needs
 * no storage at all.
 * Every value stays within Redis's listpack limit (hash-max-listpack-value, 64 bytes by default), so
 * a session hash is a compact listpack rather than a hashtable (a third of the memory), and key
 * names are short: per-key overhead dominates a session's footprint.
 * Scripts get the index key and build the session keys from it; they share its slot. Scripts that
 * end sessions also get the revocation outbox of that slot (ENDED below).
 */

/**
 * Prepended to every script that ends sessions. KEYS[2]: the revocation outbox of KEYS[1]'s slot
 * (see src/revocations/revocation-log.ts); the last five ARGV: sub (the user's id), the cap on
 * `until` (epoch s: now + access-token lifetime + clock tolerance), the clock tolerance (s), now
 * (ms), the operation id. `ended(sid, a)` records that session sid (absolute expiry a, ms) ended, in
 * the same atomic step as its deletion: no revocation can happen without its event. `until` is
 * capped by the absolute end plus the tolerance (see sessionUntil in revocation-log.ts).
 */
const ENDED = `
local FEED_SUB, FEED_CAP, FEED_TOL = ARGV[#ARGV - 4], tonumber(ARGV[#ARGV - 3]), tonumber(ARGV[#ARGV - 2])
local FEED_AT, FEED_OP = tonumber(ARGV[#ARGV - 1]), ARGV[#ARGV]
local function ended(sid, a)
  local u = FEED_CAP
  if a and tonumber(a) then u = math.min(u, math.floor(tonumber(a) / 1000) + FEED_TOL) end
  redis.call('RPUSH', KEYS[2], cjson.encode({type = 'session', sid = sid, sub = FEED_SUB, ['until'] = u, at = FEED_AT, op = FEED_OP}))
end
`;

/** Fields returned for a session by the scripts, in this order (lastUsedAt comes from the index). */
const SESSION_FIELDS = `'c', 'a', 'ip', 'ua', 'ua2', 'ua3', 'e', 'p'`;

/**
 * KEYS: idx, outbox. ARGV: sid, now, created, expiresAt, absoluteExpiresAt, hash, ip, maxSessions, ua, ua2, ua3, authenticatedAt, proof, ...ENDED
 * Returns {'stale'} or {'created', evicted...}.
 */
export const CREATE_SESSION = luaScript(`${ENDED}
local idx = KEYS[1]
local sid, now, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[8])
local revoked = redis.call('GET', idx .. ':nbf')
if revoked and tonumber(ARGV[12]) < tonumber(revoked) then return {'stale'} end
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if redis.call('EXISTS', idx .. ':' .. member) == 0 then redis.call('ZREM', idx, member) end
end
local evicted = {}
local over = redis.call('ZCARD', idx) - max + 1
if over > 0 then
  for _, member in ipairs(redis.call('ZRANGE', idx, 0, over - 1)) do
    ended(member, redis.call('HGET', idx .. ':' .. member, 'a'))
    redis.call('DEL', idx .. ':' .. member, idx .. ':' .. member .. ':g')
    redis.call('ZREM', idx, member)
    evicted[#evicted + 1] = member
  end
end
local key = idx .. ':' .. sid
redis.call('HSET', key, 'c', ARGV[3], 'e', ARGV[4], 'a', ARGV[5], 'h', ARGV[6], 'n', 0, 'ip', ARGV[7], 'ua', ARGV[9], 'p', ARGV[13])
if ARGV[10] ~= '' then redis.call('HSET', key, 'ua2', ARGV[10]) end
if ARGV[11] ~= '' then redis.call('HSET', key, 'ua3', ARGV[11]) end
redis.call('PEXPIREAT', key, ARGV[4])
redis.call('ZADD', idx, now, sid)
if redis.call('PEXPIRETIME', idx) < tonumber(ARGV[5]) then redis.call('PEXPIREAT', idx, ARGV[5]) end
table.insert(evicted, 1, 'created')
return evicted
`);

/**
 * The compare-and-swap. KEYS: idx, outbox. ARGV: sid, generation, presentedHash, nextHash, sealed, now, idleTtlMs, graceMs, deadline, ...ENDED
 * Returns {status[, c, u, e, a, ip, ua, ua2, ua3, p[, sealed]]}.
 * `deadline` (ms, Redis's clock): past it the caller has already answered 503, so nothing is
 * changed ({'late'}); a rotation the client was told failed must not land behind its back, or the
 * client's retry after the grace window would look like a stolen token.
 */
export const ROTATE_SESSION = luaScript(`${ENDED}
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[9]) then return {'late'} end
local idx = KEYS[1]
local sid, generation, presented = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local key = idx .. ':' .. sid
local grace = key .. ':g'
local now = tonumber(ARGV[6])
local chain = redis.call('HMGET', key, 'h', 'n')
if not chain[1] then return {'invalid'} end
local current = tonumber(chain[2])
local s = redis.call('HMGET', key, ${SESSION_FIELDS})
local e = tonumber(s[7])
if now >= e then
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'invalid'}
end
if generation == current and chain[1] == presented then
  local expires = math.min(now + tonumber(ARGV[7]), tonumber(s[2]))
  redis.call('HSET', key, 'h', ARGV[4], 'n', current + 1, 'e', expires)
  redis.call('PEXPIREAT', key, expires)
  if tonumber(ARGV[8]) > 0 then
    redis.call('SET', grace, ARGV[5], 'PX', ARGV[8])
  else
    redis.call('DEL', grace)
  end
  redis.call('ZADD', idx, now, sid)
  return {'rotated', s[1], ARGV[6], tostring(expires), s[2], s[3], s[4] or '', s[5] or '', s[6] or '', s[8] or ''}
end
if generation == current - 1 then
  local sealed = redis.call('GET', grace)
  if sealed then
    local used = redis.call('ZSCORE', idx, sid) or s[1]
    return {'grace', s[1], used, s[7], s[2], s[3], s[4] or '', s[5] or '', s[6] or '', s[8] or '', sealed}
  end
end
if generation < current then
  ended(sid, s[2])
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'reused'}
end
return {'invalid'}
`);

/** KEYS: idx, outbox. ARGV: sid, generation, presentedHash, ...ENDED. Ends the session for its current token or any older one; 1 if ended. */
export const REVOKE_WITH_REFRESH = luaScript(`${ENDED}
local key = KEYS[1] .. ':' .. ARGV[1]
local chain = redis.call('HMGET', key, 'h', 'n')
if not chain[1] then return 0 end
local generation, current = tonumber(ARGV[2]), tonumber(chain[2])
if (generation == current and chain[1] == ARGV[3]) or generation < current then
  ended(ARGV[1], redis.call('HGET', key, 'a'))
  redis.call('DEL', key, key .. ':g')
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`);

/**
 * KEYS: idx. ARGV: sid, now, proof (as in CREATE_SESSION). Replaces how the user last proved who
 * they are on one live session; nothing else changes. Returns {e, a} (when it ends) when it was alive and updated, else 0.
 */
export const UPDATE_AUTHENTICATION = luaScript(`
local key = KEYS[1] .. ':' .. ARGV[1]
local s = redis.call('HMGET', key, 'e', 'a')
if not s[1] or tonumber(ARGV[2]) >= tonumber(s[1]) then return 0 end
redis.call('HSET', key, 'p', ARGV[3])
return s
`);

/** KEYS: idx, outbox. ARGV: sid, ...ENDED. Returns 1 when the session existed. */
export const REVOKE_SESSION = luaScript(`${ENDED}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local key = KEYS[1] .. ':' .. ARGV[1]
local existed = redis.call('EXISTS', key)
if existed == 1 then ended(ARGV[1], redis.call('HGET', key, 'a')) end
redis.call('DEL', key, key .. ':g')
redis.call('ZREM', KEYS[1], ARGV[1])
return existed
`);

/** KEYS: idx, outbox. ARGV: exceptSid ('' for none), now, refuseMs, ...ENDED. Returns how many live sessions ended. */
export const REVOKE_ALL_SESSIONS = luaScript(`${ENDED}
local idx = KEYS[1]
local count = 0
redis.call('SET', idx .. ':nbf', ARGV[2], 'PX', ARGV[3])
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if member ~= ARGV[1] then
    local alive = redis.call('EXISTS', idx .. ':' .. member)
    if alive == 1 then ended(member, redis.call('HGET', idx .. ':' .. member, 'a')) end
    count = count + alive
    redis.call('DEL', idx .. ':' .. member, idx .. ':' .. member .. ':g')
    redis.call('ZREM', idx, member)
  end
end
return count
`);

/** KEYS: idx. Returns {sid, c, u, e, a, ip, ua, ua2, ua3, p} per live session, most recently used first, pruning dead entries. */
export const LIST_SESSIONS = luaScript(`
local idx = KEYS[1]
local out = {}
local members = redis.call('ZREVRANGE', idx, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local member = members[i]
  local s = redis.call('HMGET', idx .. ':' .. member, ${SESSION_FIELDS})
  if s[1] then
    out[#out + 1] = {member, s[1], members[i + 1], s[7], s[2], s[3], s[4] or '', s[5] or '', s[6] or '', s[8] or ''}
  else
    redis.call('ZREM', idx, member)
  end
end
return out
`);

/**
 * Read-only (RFC 7662 introspection of a refresh token). KEYS: idx. ARGV: sid, generation, presentedHash, now.
 * Returns {c, u, e, a, ip, ua, ua2, ua3, p} when the presented token is the session's *current* one
 * and the session is alive, else {}. Changes nothing: an older token of the chain is not treated as
 * reuse here (only a refresh or a logout may end a session), and nothing is rotated.
 */
export const INSPECT_REFRESH = luaScript(`
local key = KEYS[1] .. ':' .. ARGV[1]
local chain = redis.call('HMGET', key, 'h', 'n')
if not chain[1] or tonumber(chain[2]) ~= tonumber(ARGV[2]) or chain[1] ~= ARGV[3] then return {} end
local s = redis.call('HMGET', key, ${SESSION_FIELDS})
if not s[7] or tonumber(ARGV[4]) >= tonumber(s[7]) then return {} end
local used = redis.call('ZSCORE', KEYS[1], ARGV[1]) or s[1]
return {s[1], used, s[7], s[2], s[3], s[4] or '', s[5] or '', s[6] or '', s[8] or ''}
`);
