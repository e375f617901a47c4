"""The Lua scripts of ``RedisState``: each runs atomically in Redis, so no node sees half of one.

Every key a script touches is passed in ``KEYS``, built by ``RedisState.key`` (``dead`` alone
builds node keys from the members of the nodes set, from a prefix passed in ``ARGV``).  Scripts
start with a ``#!lua`` line (Redis >= 7): one that writes is refused as a whole when Redis is out
of memory, never stopped half-way by a failing write.  For the same reason ``commit`` checks all
it can before its first write: Redis does not undo the writes a failing script made.
"""

from __future__ import annotations

# The topic's epoch: the one its meta hash holds, else the candidate from Python.  A new epoch
# starts an empty history: a log or seq left without its epoch (evicted, hand-edited) is dropped,
# so the first seq of the epoch is 1 and XADD never meets an id at or above it.
_EPOCH_OF = """
local function epoch_of(meta, log, candidate)
  if redis.call('HSETNX', meta, 'epoch', candidate) == 1 then
    redis.call('HDEL', meta, 'seq')
    redis.call('DEL', log)
    return candidate
  end
  return redis.call('HGET', meta, 'epoch')
end
"""

COMMIT = (
    "#!lua\n"
    + _EPOCH_OF
    + """
-- KEYS: lock, document, one per op, then meta and log per topic, then meta and log of each
-- topic to forget (deleted after the appends: a new epoch starts with its next event).
-- ARGV[1..8]: fencing ('0' none, '1' by token, '2' by token and release the lock at the end),
-- token, has document ('1' or '0'), document, history (stream MAXLEN), n ops, n topics,
-- n appends; then per op: name, a, b; per topic: epoch candidate, channel; per append: topic
-- index, head, tail (the frame is head .. seq .. tail).
-- Returns false when fenced (nothing written), {{}, {}} when an ``ifhas`` condition does not
-- hold (nothing written), else {epoch per topic, seq per append}.
if ARGV[1] ~= '0' and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return false
end
local nops, ntopics, nappends = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

-- Refuse before writing anything an op that would fail half-way: an unknown op, or a key of
-- another type than the op needs (as it will be when its turn comes: an earlier del empties it).
local needs = {hset = 'hash', hdel = 'hash', zadd = 'zset', zrem = 'zset',
               sadd = 'set', srem = 'set', del = 'any', ifhas = 'hash'}
local typed = {}
for i = 1, nops do
  local name, key = ARGV[6 + 3 * i], KEYS[2 + i]
  local need = needs[name]
  -- A condition: a hash without the field makes the whole commit write nothing.
  if name == 'ifhas' and redis.call('HEXISTS', key, ARGV[7 + 3 * i]) == 0 then
    return {{}, {}}
  end
  if need == nil then
    return redis.error_reply('ERR commit refused: unknown op ' .. name .. '; nothing written')
  end
  local have = typed[key] or redis.call('TYPE', key)['ok']
  if need == 'any' then
    typed[key] = 'none'
  elseif have ~= 'none' and have ~= need then
    return redis.error_reply('ERR commit refused: ' .. key .. ' is a ' .. have .. ', ' .. name
      .. ' needs a ' .. need .. '; nothing written')
  else
    typed[key] = need
  end
end

if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], ARGV[4])
end
for i = 1, nops do
  local name, key, a, b = ARGV[6 + 3 * i], KEYS[2 + i], ARGV[7 + 3 * i], ARGV[8 + 3 * i]
  if name == 'ifhas' then  -- checked above
  elseif name == 'hset' then redis.call('HSET', key, a, b)
  elseif name == 'hdel' then redis.call('HDEL', key, a)
  elseif name == 'zadd' then redis.call('ZADD', key, b, a)
  elseif name == 'zrem' then redis.call('ZREM', key, a)
  elseif name == 'sadd' then redis.call('SADD', key, a)
  elseif name == 'srem' then redis.call('SREM', key, a)
  else redis.call('DEL', key)
  end
end

local topics = 8 + 3 * nops  -- ARGV before the first topic
local epochs = {}
for t = 1, ntopics do
  epochs[t] = epoch_of(KEYS[1 + nops + 2 * t], KEYS[2 + nops + 2 * t], ARGV[topics + 2 * t - 1])
end
local appends = topics + 2 * ntopics  -- ARGV before the first append
local seqs = {}
for i = 1, nappends do
  local t = tonumber(ARGV[appends + 3 * i - 2])
  local meta, log = KEYS[1 + nops + 2 * t], KEYS[2 + nops + 2 * t]
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  -- '%d': tostring would write a seq of 15 digits or more in exponent form
  local frame = ARGV[appends + 3 * i - 1] .. string.format('%d', seq) .. ARGV[appends + 3 * i]
  redis.call('XADD', log, 'MAXLEN', '~', ARGV[5], string.format('%d-0', seq), 'f', frame)
  redis.call('PUBLISH', ARGV[topics + 2 * t], epochs[t] .. ' ' .. frame)
  seqs[i] = seq
end
for k = 3 + nops + 2 * ntopics, #KEYS do
  redis.call('DEL', KEYS[k])
end
if ARGV[1] == '2' then
  redis.call('DEL', KEYS[1])
end
return {epochs, seqs}
"""
)

HEAD = (
    "#!lua\n"
    + _EPOCH_OF
    + """
-- KEYS: meta, log.  ARGV: epoch candidate.  Returns {epoch, seq} (seq 0 before any event).
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[1])
return {epoch, tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')}
"""
)

SNAPSHOT = (
    "#!lua\n"
    + _EPOCH_OF
    + """
-- KEYS: document, meta, log, then the hashes.  ARGV: epoch candidate.
-- Returns {document or false, epoch, seq, HGETALL of each hash}: one moment, so the document and
-- the hashes are exactly what the commits up to seq made them.
local epoch = epoch_of(KEYS[2], KEYS[3], ARGV[1])
local out = {redis.call('GET', KEYS[1]), epoch,
             tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')}
for i = 4, #KEYS do
  out[#out + 1] = redis.call('HGETALL', KEYS[i])
end
return out
"""
)

SINCE = """#!lua flags=no-writes
-- KEYS: meta, log.  ARGV: epoch, seq.  Returns the frames after seq, or false when they cannot
-- all be given: another epoch, seq ahead of the topic, or the log trimmed past seq.
local held = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if held[1] ~= ARGV[1] then
  return false
end
local head, after = tonumber(held[2] or '0'), tonumber(ARGV[2])
if after > head then
  return false
end
if after == head then
  return {}
end
local entries = redis.call('XRANGE', KEYS[2], string.format('(%d-0', after), '+')
if #entries ~= head - after or entries[1][1] ~= string.format('%d-0', after + 1) then
  return false
end
local frames = {}
for i, entry in ipairs(entries) do
  frames[i] = entry[2][2]
end
return frames
"""

ACQUIRE = """#!lua
-- KEYS: lock, document.  ARGV: token, ttl ms, load ('1' or '0').  Takes the lock if it is free:
-- false when it is not, else {the document when asked for (false when there is none)}.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
if ARGV[3] == '1' then
  return {redis.call('GET', KEYS[2])}
end
return {false}
"""

RELEASE = """#!lua
-- KEYS: lock.  ARGV: token.  Deletes the lock only while it is still ours; 1 if it was.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

BREAK = """#!lua
-- KEYS: lock.  ARGV: owner.  Deletes the lock when its token is the owner's (``<owner>/...``): a
-- dead node's lock, freed without waiting for its ttl; whatever it would still commit is fenced.
local token = redis.call('GET', KEYS[1])
if token and string.sub(token, 1, #ARGV[1] + 1) == ARGV[1] .. '/' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

EXTEND = """#!lua
-- KEYS: lock.  ARGV: token, ttl ms.  Gives our lock a new ttl; 0 when it is no longer ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

BEAT = """#!lua
-- KEYS: the node's liveness key, the nodes set.  ARGV: node, ttl ms.
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

DEAD = """#!lua flags=no-writes
-- KEYS: the nodes set.  ARGV: the prefix of node liveness keys.  The members whose key expired.
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. node) == 0 then
    dead[#dead + 1] = node
  end
end
return dead
"""

FORGET = """#!lua
-- KEYS: the node's liveness key, the nodes set.  ARGV: node.  Removes a node that is still
-- dead; 1 for the one caller that removed it (that caller cleans up after it), else 0.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
return redis.call('SREM', KEYS[2], ARGV[1])
"""
