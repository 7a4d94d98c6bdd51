-- Deletes a session only if it belongs to the given user.
-- KEYS[1]: the session hash. ARGV[1]: the user id.
-- Returns 1 if deleted, 0 if there is no such session or it is another user's.
if redis.call('HGET', KEYS[1], 'user') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
