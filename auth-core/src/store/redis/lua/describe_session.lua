-- Records what started a session, if the session still exists (a plain HSET would bring an
-- expired one back without a lifetime).
-- KEYS[1]: the session hash. ARGV[1]: the User-Agent.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'user_agent', ARGV[1])
return 1
