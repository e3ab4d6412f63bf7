import { luaScript } from '../../redis/redis.service.js';

/*
 * Key layout for one user (every key carries the hash tag {<userId>}, so each script touches one
 * slot and runs on Redis Cluster too):
 *   sess:{u}:idx        ZSET  sessionId -> lastUsedAt (ms); LRU order for the cap, the sessions list
 *   sess:{u}:s:<sid>    HASH  c created, u lastUsed, e expiresAt, a absoluteExpiresAt, ua, ip,
 *                             h current refresh hash, p previous hash, o<hash> one field per older hash
 *                             (PEXPIREAT = e, so the session and its history vanish together)
 *   sess:{u}:g:<sid>    STRING the sealed successor of the last rotation (PX = grace window)
 * Scripts receive the key prefix `sess:{u}:` and build session keys from it: all of them share the
 * user's slot, so this is cluster-safe.
 */

/** KEYS: prefix-only idx. ARGV: prefix, sid, now, created, expiresAt, absoluteExpiresAt, hash, ua, ip, maxSessions */
export const CREATE_SESSION = luaScript(`
local idx = KEYS[1]
local prefix, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max = tonumber(ARGV[10])
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if redis.call('EXISTS', prefix .. 's:' .. member) == 0 then redis.call('ZREM', idx, member) end
end
local evicted = {}
local over = redis.call('ZCARD', idx) - max + 1
if over > 0 then
  for _, member in ipairs(redis.call('ZRANGE', idx, 0, over - 1)) do
    redis.call('DEL', prefix .. 's:' .. member, prefix .. 'g:' .. member)
    redis.call('ZREM', idx, member)
    evicted[#evicted + 1] = member
  end
end
local key = prefix .. 's:' .. sid
redis.call('HSET', key, 'c', ARGV[4], 'u', ARGV[3], 'e', ARGV[5], 'a', ARGV[6], 'h', ARGV[7], 'ua', ARGV[8], 'ip', ARGV[9])
redis.call('PEXPIREAT', key, ARGV[5])
redis.call('ZADD', idx, now, sid)
if redis.call('PEXPIRETIME', idx) < tonumber(ARGV[6]) then redis.call('PEXPIREAT', idx, ARGV[6]) end
return evicted
`);

/**
 * The compare-and-swap. KEYS: idx. ARGV: prefix, sid, presentedHash, nextHash, sealed, now, idleTtlMs, graceMs
 * Returns {status, c, u, e, a, ua, ip[, sealed]}.
 */
export const ROTATE_SESSION = luaScript(`
local idx = KEYS[1]
local prefix, sid, presented = ARGV[1], ARGV[2], ARGV[3]
local key, grace = prefix .. 's:' .. sid, prefix .. 'g:' .. sid
local now = tonumber(ARGV[6])
local s = redis.call('HMGET', key, 'h', 'p', 'c', 'u', 'e', 'a', 'ua', 'ip')
if not s[1] then return {'invalid'} end
if now >= tonumber(s[5]) then
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'invalid'}
end
if s[1] == presented then
  local expires = math.min(now + tonumber(ARGV[7]), tonumber(s[6]))
  redis.call('HSET', key, 'h', ARGV[4], 'p', presented, 'u', ARGV[6], 'e', expires, 'o' .. presented, '1')
  redis.call('PEXPIREAT', key, expires)
  if tonumber(ARGV[8]) > 0 then
    redis.call('SET', grace, ARGV[5], 'PX', ARGV[8])
  else
    redis.call('DEL', grace)
  end
  redis.call('ZADD', idx, now, sid)
  return {'rotated', s[3], ARGV[6], tostring(expires), s[6], s[7], s[8]}
end
if s[2] == presented then
  local sealed = redis.call('GET', grace)
  if sealed then return {'grace', s[3], s[4], s[5], s[6], s[7], s[8], sealed} end
end
if redis.call('HEXISTS', key, 'o' .. presented) == 1 then
  redis.call('DEL', key, grace)
  redis.call('ZREM', idx, sid)
  return {'reused'}
end
return {'invalid'}
`);

/** KEYS: idx. ARGV: prefix, sid, presentedHash. Returns 1 when the session was ended. */
export const REVOKE_WITH_REFRESH = luaScript(`
local prefix, sid, presented = ARGV[1], ARGV[2], ARGV[3]
local key, grace = prefix .. 's:' .. sid, prefix .. 'g:' .. sid
local s = redis.call('HMGET', key, 'h', 'p')
if not s[1] then return 0 end
if s[1] == presented or (s[2] == presented and redis.call('EXISTS', grace) == 1) then
  redis.call('DEL', key, grace)
  redis.call('ZREM', KEYS[1], sid)
  return 1
end
return 0
`);

/** KEYS: idx. ARGV: prefix, sid. Returns 1 when the session existed. */
export const REVOKE_SESSION = luaScript(`
local prefix, sid = ARGV[1], ARGV[2]
local existed = redis.call('DEL', prefix .. 's:' .. sid)
redis.call('DEL', prefix .. 'g:' .. sid)
redis.call('ZREM', KEYS[1], sid)
return existed
`);

/** KEYS: idx. ARGV: prefix, exceptSid ('' for none). Returns how many live sessions ended. */
export const REVOKE_ALL_SESSIONS = luaScript(`
local idx = KEYS[1]
local prefix, except = ARGV[1], ARGV[2]
local ended = 0
for _, member in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if member ~= except then
    ended = ended + redis.call('DEL', prefix .. 's:' .. member)
    redis.call('DEL', prefix .. 'g:' .. member)
    redis.call('ZREM', idx, member)
  end
end
return ended
`);

/** KEYS: idx. ARGV: prefix. Returns a flat list of {sid, c, u, e, a, ua, ip} for live sessions, pruning dead index entries. */
export const LIST_SESSIONS = luaScript(`
local idx = KEYS[1]
local prefix = ARGV[1]
local out = {}
for _, member in ipairs(redis.call('ZREVRANGE', idx, 0, -1)) do
  local s = redis.call('HMGET', prefix .. 's:' .. member, 'c', 'u', 'e', 'a', 'ua', 'ip')
  if s[1] then
    out[#out + 1] = {member, s[1], s[2], s[3], s[4], s[5], s[6]}
  else
    redis.call('ZREM', idx, member)
  end
end
return out
`);
