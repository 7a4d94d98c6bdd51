-- Gives back one reserved attempt: decrements the count if the counter exists and is above
-- zero; its lifetime and times stay as they were.
-- KEYS[1]: the counter hash.
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures'))
if failures and failures > 0 then
  redis.call('HINCRBY', KEYS[1], 'failures', -1)
end
return 0
