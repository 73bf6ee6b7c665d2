"""The Lua scripts of the shared budget: each runs atomically in Redis, in one round trip.

Keys of one account (the braces make them one Redis Cluster hash slot):

    streamwatch:{<account>}:rate          sorted set: the calls of the last window, scored by
                                          the time (Redis's clock, µs) each may be sent
    streamwatch:{<account>}:day:<date>    hash: "total", and "box:<node>" per box; expires an
                                          hour after the day ends (in budget.timezone)
    streamwatch:{<account>}:boxes         sorted set: each box's node, scored by its last
                                          heartbeat

Times are Redis's own (TIME): the boxes' clocks need not agree. The day's key is named by the
asking box's date, which they do agree on except for seconds around midnight.

Each box also says how many calls it counted today (`mine`); when the hash holds fewer for it
(calls made on its local share while Redis was unreachable, or a Redis restarted without its
data), the difference is added to the day's total first. Adding a box's count this way is
idempotent: a reply lost and the script run again adds nothing twice.
"""

from __future__ import annotations

# KEYS[2] the day's hash; ARGV[1] this box's field, ARGV[2] its count today, ARGV[3] the
# Unix time the hash expires. Sets `added`.
_RECONCILE = """
local added = 0
local counted = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local mine = tonumber(ARGV[2])
if mine > counted then
  added = mine - counted
  redis.call('HINCRBY', KEYS[2], 'total', added)
  redis.call('HSET', KEYS[2], ARGV[1], mine)
  redis.call('EXPIREAT', KEYS[2], ARGV[3])
end
"""

_NOW_US = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
"""

# Admit one call. KEYS[1] the rate's sorted set, KEYS[2] the day's hash.
# ARGV[1..3] as _RECONCILE; ARGV[4] the calls of one window this priority may take (max_calls,
# less the reserve for a low one); ARGV[5] the window (µs); ARGV[6] how long the caller can wait
# for its slot (µs; 0: now or never); ARGV[7] the daily cap (-1: none); ARGV[8] a unique id.
# Returns {status, the day's total, µs until the slot, calls added by the reconcile}:
#   'ok'    counted; send in that many µs (a slot booked ahead, FIFO)
#   'wait'  not counted; a slot of this priority frees in that many µs
#   'spent' not counted; the day's cap is reached
#
# A slot is booked no earlier than the last one booked (first come, first served) and no
# earlier than `window` after the allowed-th latest: any max_calls + 1 consecutive calls then
# span at least `window`, so no window holds more than max_calls. A low call takes no slot
# ahead (ARGV[6] = 0) and fits only below the reserve, so a high call never queues behind it.
ADMIT = (
    _NOW_US
    + _RECONCILE
    + """
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
local daily_max = tonumber(ARGV[7])
if daily_max >= 0 and total >= daily_max then
  return {'spent', total, 0, added}
end
local allowed = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local booked = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local n = #booked / 2
local at = now
if n > 0 then
  at = math.max(at, tonumber(booked[2 * n]))
end
if n >= allowed then
  at = math.max(at, tonumber(booked[2 * (n - allowed + 1)]) + window)
end
if at - now > tonumber(ARGV[6]) then
  return {'wait', total, at - now, added}
end
redis.call('ZADD', KEYS[1], at, ARGV[8])
redis.call('PEXPIRE', KEYS[1], math.ceil((at - now + window) / 1000) + 1)
total = redis.call('HINCRBY', KEYS[2], 'total', 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('EXPIREAT', KEYS[2], ARGV[3])
return {'ok', total, at - now, added}
"""
)

# A box's heartbeat. KEYS[1] the account's boxes, KEYS[2] the day's hash; ARGV[1..3] as
# _RECONCILE; ARGV[4] the node; ARGV[5] how long a box counts after its last heartbeat (µs).
# Returns {boxes counted, the day's total, calls added by the reconcile}.
HEARTBEAT = (
    _NOW_US
    + _RECONCILE
    + """
local horizon = tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
redis.call('PEXPIRE', KEYS[1], math.ceil(horizon / 1000))
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
return {redis.call('ZCARD', KEYS[1]), total, added}
"""
)

# A slot booked ahead whose call will not be sent after all (cancelled while waiting for it):
# given back. KEYS[1] the rate's sorted set, KEYS[2] the day's hash; ARGV[1] the box's field,
# ARGV[2] the call's id. Returns 1 when it was still booked.
REFUND = """
if redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'total', -1)
  redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
  return 1
end
return 0
"""
