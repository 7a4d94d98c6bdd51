-- Records a session id as revoked until a deadline, never moving an existing deadline earlier
-- and never shortening the key's lifetime.
-- KEYS[1]: the revocation key. ARGV[1]: the deadline. ARGV[2]: the key lifetime in ms.
local current = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1]) -- -2: no key, -1: no expiry
local ttl = math.max(tonumber(ARGV[2]), pttl)
if not current or cmp_time(current, ARGV[1]) < 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl_arg(ttl))
elseif pttl >= 0 then
  redis.call('PEXPIRE', KEYS[1], ttl_arg(ttl))
end
return 1
