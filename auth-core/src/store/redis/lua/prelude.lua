-- Shared by the scripts that compare or subtract times.
--
-- A time is a 29-digit string: 20 digits of seconds and 9 of nanoseconds since the Unix epoch,
-- zero-padded. Comparisons are exact (compared piecewise, each piece exactly representable in a
-- Lua number); subtractions are only used for key lifetimes and are exact to well under 1 ms.

local MAX_TTL_MS = 3153600000000 -- 100 years: keeps PEXPIRE arguments in range

-- -1, 0 or 1 as time a is before, equal to or after time b.
local function cmp_time(a, b)
  local pieces = { { 1, 10 }, { 11, 20 }, { 21, 29 } }
  for _, p in ipairs(pieces) do
    local x = tonumber(string.sub(a, p[1], p[2]))
    local y = tonumber(string.sub(b, p[1], p[2]))
    if x < y then
      return -1
    elseif x > y then
      return 1
    end
  end
  return 0
end

-- Milliseconds from time a to time b (negative if b is before a).
local function millis_between(a, b)
  local secs = tonumber(string.sub(b, 1, 20)) - tonumber(string.sub(a, 1, 20))
  local nanos = tonumber(string.sub(b, 21, 29)) - tonumber(string.sub(a, 21, 29))
  return secs * 1000 + nanos / 1000000
end

-- A key lifetime for PEXPIRE / SET PX: whole milliseconds, rounded up, between 1 and MAX_TTL_MS.
local function ttl_arg(ms)
  ms = math.ceil(ms)
  if ms < 1 then
    ms = 1
  elseif ms > MAX_TTL_MS then
    ms = MAX_TTL_MS
  end
  return string.format('%d', ms)
end

