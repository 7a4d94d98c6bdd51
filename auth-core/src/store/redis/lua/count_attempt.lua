-- Counts an attempt on a throttle counter, in one of two ways:
-- 'reserve': one more attempt, before its secret is checked; with more than ARGV[6] attempts
-- counted before it, the last failure moves to now (it counts as failed until settled). The
-- answer carries the last failure as it was before;
-- 'fail': a reserved attempt failed: the count stays (at least one) and the last failure moves
-- to now, never back.
-- Either way a closed or missing window starts afresh: one attempt, started and failed at now.
-- KEYS[1]: the counter hash. ARGV[1]: now. ARGV[2]: now minus the window length, or '' if that
-- is before the epoch (then every stored window is still open). ARGV[3]: the window length in
-- ms. ARGV[4]: extra lifetime in ms for clock skew between callers. ARGV[5]: 'reserve' or 'fail'.
-- ARGV[6]: the free attempts (for 'reserve').
-- Returns {failures, window_started, last_failure}.
local now = ARGV[1]
local stored = redis.call('HMGET', KEYS[1], 'failures', 'window_started', 'last_failure')
local failures, started, last
local answered_last
-- A window is open while now < started + window, that is while now - window < started.
if stored[1] and stored[2] and stored[3] and (ARGV[2] == '' or cmp_time(ARGV[2], stored[2]) < 0) then
  started = stored[2]
  last = stored[3]
  answered_last = last
  if ARGV[5] == 'reserve' then
    failures = math.min(tonumber(stored[1]) + 1, 4294967295)
    if tonumber(stored[1]) > tonumber(ARGV[6]) and cmp_time(last, now) < 0 then
      last = now
    end
  else
    failures = math.max(tonumber(stored[1]), 1)
    if cmp_time(last, now) < 0 then
      last = now
    end
  end
else
  failures = 1
  started = now
  last = now
  answered_last = now
end
failures = string.format('%d', failures)
redis.call('HSET', KEYS[1], 'failures', failures, 'window_started', started, 'last_failure', last)
-- The key lives until the window closes (started + window), plus the skew allowance.
local ttl = millis_between(now, started) + tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl_arg(ttl))
if ARGV[5] == 'reserve' then
  return { failures, started, answered_last }
end
return { failures, started, last }
