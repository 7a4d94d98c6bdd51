-- Adds a session id to a user's index and makes the index live at least as long as the session.
-- KEYS[1]: the user's index (sorted set). ARGV[1]: score (created_at, ms). ARGV[2]: session id.
-- ARGV[3]: the lifetime in ms the index must at least have.
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
-- PTTL is -1 without an expiry: set one; never shorten a longer one (other sessions need it).
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
