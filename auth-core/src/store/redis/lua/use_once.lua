-- Marks a single-use id used until a deadline: refused while an earlier use is still within
-- its own deadline (measured against the caller's now, not Redis's clock).
-- KEYS[1]: the id's key. ARGV[1]: now. ARGV[2]: the deadline. ARGV[3]: the key's lifetime in ms.
-- Returns 1 when this is the first use, 0 otherwise.
local used_until = redis.call('GET', KEYS[1])
if used_until and cmp_time(ARGV[1], used_until) < 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
