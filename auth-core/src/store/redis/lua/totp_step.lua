-- Accepts a TOTP time step once: refused if this or a later step is remembered.
-- KEYS[1]: the user's TOTP step key. ARGV[1]: the step. ARGV[2]: how long to remember it, in ms.
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
