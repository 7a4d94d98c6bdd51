-- Stores a new session record unless one exists under the key.
-- KEYS[1]: the session hash. ARGV[1]: its lifetime in ms. ARGV[2..]: field, value pairs.
-- Returns 1 if stored, 0 if the key exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
