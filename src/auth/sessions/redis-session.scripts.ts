import { luaScript } from '../../redis/redis.service.js';

/*
 * Key layout for one user, U = the user id in 22 base64url characters. Every key carries the hash
 * tag {U}, so each script touches one slot and runs on Redis Cluster too:
 *   s:{U}            ZSET    sessionId -> lastUsedAt (ms): LRU order for the cap, the sessions list
 *   s:{U}:<sid>      HASH    c created, a absoluteExpiresAt (ms), ip,
 *                            ua/ua2/ua3 the user agent in pieces of at most 64 bytes,
 *                            h current refresh hash, o<hash> one field per older hash of the chain;
 *                            its expiry time is the session's expiresAt (PEXPIREAT, read back with
 *                            PEXPIRETIME), so the session and its history vanish together
 *   s:{U}:<sid>:g    STRING  "<previous hash>.<sealed successor>" of the last rotation (PX = grace window)
 * Every value stays within Redis's listpack limit (hash-max-listpack-value, 64 bytes by default), so
 * a session hash is a compact listpack rather than a hashtable (a third of the memory), and key
 * names are short: per-key overhead dominates a session's footprint.
 * Scripts get the index key and build the session keys from it; they share its slot.
 */

/** Fields returned for a session by the scripts, in this order (lastUsedAt comes from the index). */
const SESSION_FIELDS = `'c', 'a', 'ip', 'ua', 'ua2', 'ua3'`;

/** KEYS: idx. ARGV: sid, now, created, expiresAt, absoluteExpiresAt, hash, ip, maxSessions, ua, ua2, ua3 */
export const CREATE_SESSION = luaScript(`
local idx = KEYS[1]
local sid, now, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[8])
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if redis.call('EXISTS', idx .. ':' .. member) == 0 then redis.call('ZREM', idx, member) end
end
local evicted = {}
local over = redis.call('ZCARD', idx) - max + 1
if over > 0 then
  for _, member in ipairs(redis.call('ZRANGE', idx, 0, over - 1)) do
    redis.call('DEL', idx .. ':' .. member, idx .. ':' .. member .. ':g')
    redis.call('ZREM', idx, member)
    evicted[#evicted + 1] = member
  end
end
local key = idx .. ':' .. sid
redis.call('HSET', key, 'c', ARGV[3], 'a', ARGV[5], 'h', ARGV[6], 'ip', ARGV[7], 'ua', ARGV[9])
if ARGV[10] ~= '' then redis.call('HSET', key, 'ua2', ARGV[10]) end
if ARGV[11] ~= '' then redis.call('HSET', key, 'ua3', ARGV[11]) end
redis.call('PEXPIREAT', key, ARGV[4])
redis.call('ZADD', idx, now, sid)
if redis.call('PEXPIRETIME', idx) < tonumber(ARGV[5]) then redis.call('PEXPIREAT', idx, ARGV[5]) end
return evicted
`);

/**
 * The compare-and-swap. KEYS: idx. ARGV: sid, presentedHash, nextHash, sealed, now, idleTtlMs, graceMs
 * Returns {status[, c, u, e, a, ip, ua, ua2, ua3[, sealed]]}.
 */
export const ROTATE_SESSION = luaScript(`
local idx = KEYS[1]
local sid, presented = ARGV[1], ARGV[2]
local key = idx .. ':' .. sid
local grace = key .. ':g'
local now = tonumber(ARGV[5])
local current = redis.call('HGET', key, 'h')
if not current then return {'invalid'} end
local s = redis.call('HMGET', key, ${SESSION_FIELDS})
local e = redis.call('PEXPIRETIME', key)
if now >= e then
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'invalid'}
end
if current == presented then
  local expires = math.min(now + tonumber(ARGV[6]), tonumber(s[2]))
  redis.call('HSET', key, 'h', ARGV[3], 'o' .. presented, '1')
  redis.call('PEXPIREAT', key, expires)
  if tonumber(ARGV[7]) > 0 then
    redis.call('SET', grace, presented .. '.' .. ARGV[4], 'PX', ARGV[7])
  else
    redis.call('DEL', grace)
  end
  redis.call('ZADD', idx, now, sid)
  return {'rotated', s[1], ARGV[5], tostring(expires), s[2], s[3], s[4] or '', s[5] or '', s[6] or ''}
end
local g = redis.call('GET', grace)
if g then
  local dot = string.find(g, '.', 1, true)
  if string.sub(g, 1, dot - 1) == presented then
    local used = redis.call('ZSCORE', idx, sid) or s[1]
    return {'grace', s[1], used, tostring(e), s[2], s[3], s[4] or '', s[5] or '', s[6] or '', string.sub(g, dot + 1)}
  end
end
if redis.call('HEXISTS', key, 'o' .. presented) == 1 then
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'reused'}
end
return {'invalid'}
`);

/** KEYS: idx. ARGV: sid, presentedHash. Returns 1 when the session was ended. */
export const REVOKE_WITH_REFRESH = luaScript(`
local key = KEYS[1] .. ':' .. ARGV[1]
local current = redis.call('HGET', key, 'h')
if not current then return 0 end
local g = redis.call('GET', key .. ':g')
local previous = g and string.sub(g, 1, string.find(g, '.', 1, true) - 1)
if current == ARGV[2] or previous == ARGV[2] then
  redis.call('DEL', key, key .. ':g')
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`);

/** KEYS: idx. ARGV: sid. Returns 1 when the session existed. */
export const REVOKE_SESSION = luaScript(`
local key = KEYS[1] .. ':' .. ARGV[1]
local existed = redis.call('EXISTS', key)
redis.call('DEL', key, key .. ':g')
redis.call('ZREM', KEYS[1], ARGV[1])
return existed
`);

/** KEYS: idx. ARGV: exceptSid ('' for none). Returns how many live sessions ended. */
export const REVOKE_ALL_SESSIONS = luaScript(`
local idx = KEYS[1]
local ended = 0
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if member ~= ARGV[1] then
    ended = ended + redis.call('EXISTS', idx .. ':' .. member)
    redis.call('DEL', idx .. ':' .. member, idx .. ':' .. member .. ':g')
    redis.call('ZREM', idx, member)
  end
end
return ended
`);

/** KEYS: idx. Returns {sid, c, u, e, a, ip, ua, ua2, ua3} per live session, most recently used first, pruning dead entries. */
export const LIST_SESSIONS = luaScript(`
local idx = KEYS[1]
local out = {}
local members = redis.call('ZREVRANGE', idx, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local member = members[i]
  local key = idx .. ':' .. member
  local s = redis.call('HMGET', key, ${SESSION_FIELDS})
  if s[1] then
    out[#out + 1] = {member, s[1], members[i + 1], tostring(redis.call('PEXPIRETIME', key)), s[2], s[3], s[4] or '', s[5] or '', s[6] or ''}
  else
    redis.call('ZREM', idx, member)
  end
end
return out
`);
