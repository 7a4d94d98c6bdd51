-- Marks a live session used and extends its idle expiry; touches nothing if the key is gone,
-- so a concurrent revocation (DEL) is never undone.
-- KEYS[1]: the session hash. ARGV[1]: now. ARGV[2]: the requested idle expiry. ARGV[3]
-- (optional): 'reauthenticated', to record now as the session's auth_time as well.
-- Returns the updated record's fields (user, amr, created, last_used, idle_expires, expires,
-- auth_time, flagged, client, user_agent, oauth_client, oauth_scope), or nil if there is no session alive at now.
local stored = redis.call('HMGET', KEYS[1], 'idle_expires', 'expires')
local idle, expires = stored[1], stored[2]
if not idle or not expires then
  return false
end
local now = ARGV[1]
if cmp_time(now, idle) >= 0 or cmp_time(now, expires) >= 0 then
  return false
end
local new_idle = ARGV[2]
if cmp_time(expires, new_idle) < 0 then
  new_idle = expires
end
redis.call('HSET', KEYS[1], 'last_used', now, 'idle_expires', new_idle)
if ARGV[3] == 'reauthenticated' then
  redis.call('HSET', KEYS[1], 'auth_time', now)
end
redis.call('PEXPIRE', KEYS[1], ttl_arg(millis_between(now, new_idle)))
return redis.call('HMGET', KEYS[1], 'user', 'amr', 'created', 'last_used', 'idle_expires', 'expires',
  'auth_time', 'flagged', 'client', 'user_agent', 'oauth_client', 'oauth_scope')
