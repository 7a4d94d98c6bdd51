-- Shared by the wrk scripts of the load harness (loaded with dofile from LOAD_LUA_DIR).
--
-- wrk runs one Lua state per thread plus one for setup() and done(). Each thread counts
-- the statuses it sees in response(); done() collects those counters through the thread
-- objects kept by setup() and prints one machine-readable RESULT line that run.sh parses.
--
-- Environment read here (set by run.sh):
--   LOAD_THREADS      number of wrk threads (-t), to split the seed lines between them
--   LOAD_SEED_FILE    one seed per line (access tokens, refresh tokens, or user emails)
--   LOAD_DELAY_MS     mean pause before each request on a connection (0: closed loop)

local lib = {}

local threads = {}
local next_id = 0

-- setup(thread), in the main state: number the threads and keep them for done().
function lib.setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- This thread's share of the seed file: lines i with (i - 1) % threads == thread_id.
function lib.seeds()
  local path = os.getenv("LOAD_SEED_FILE")
  local count = tonumber(os.getenv("LOAD_THREADS") or "1")
  local id = thread_id or 0
  local mine, all = {}, {}
  if path == nil or path == "" then
    return mine
  end
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if line ~= "" then
      table.insert(all, line)
    end
  end
  file:close()
  for i, line in ipairs(all) do
    if (i - 1) % count == id then
      table.insert(mine, line)
    end
  end
  -- Fewer seeds than threads: share them rather than leave a thread without any.
  if #mine == 0 and #all > 0 then
    table.insert(mine, all[(id % #all) + 1])
  end
  return mine
end

-- Per-thread counters, filled by lib.count() from response().
statuses = {}
retry_after_missing = 0
server_timeouts = 0

-- Counts one response: its status; for 429 and 503, whether Retry-After came with it;
-- for 503, whether it was the server's request deadline ("timeout").
function lib.count(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 429 or status == 503 then
    local found = false
    for name, _ in pairs(headers) do
      if string.lower(name) == "retry-after" then
        found = true
        break
      end
    end
    if not found then
      retry_after_missing = retry_after_missing + 1
    end
    if status == 503 and body ~= nil and string.find(body, '"error":"timeout"', 1, true) then
      server_timeouts = server_timeouts + 1
    end
  end
end

-- A pause with jitter (uniform in [0.5, 1.5] of the mean), so paced connections do not
-- fire in step. Returns 0 for a closed loop.
local delay_ms = tonumber(os.getenv("LOAD_DELAY_MS") or "0") or 0
function lib.delay()
  if delay_ms <= 0 then
    return 0
  end
  return math.floor(delay_ms * (0.5 + math.random()))
end
lib.paced = delay_ms > 0

-- The last item of `pool`, taken out; once the pool is spent, "exhausted", counted in the
-- thread's `exhausted` (a request with it is refused, so a run that outlasts its seeds shows).
exhausted = 0
function lib.take(pool)
  local item = table.remove(pool)
  if item == nil then
    exhausted = exhausted + 1
    item = "exhausted"
  end
  return item
end

-- done(), in the main state: one RESULT line with the totals.
function lib.done(summary, latency, _requests)
  local merged = {}
  local missing, timeouts, extra = 0, 0, 0
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    if type(counts) == "table" then
      for status, n in pairs(counts) do
        merged[status] = (merged[status] or 0) + n
      end
    end
    missing = missing + (tonumber(thread:get("retry_after_missing")) or 0)
    timeouts = timeouts + (tonumber(thread:get("server_timeouts")) or 0)
    extra = extra + (tonumber(thread:get("exhausted")) or 0)
  end
  local keys = {}
  for status, _ in pairs(merged) do
    table.insert(keys, status)
  end
  table.sort(keys)
  local parts = {}
  for _, status in ipairs(keys) do
    table.insert(parts, status .. ":" .. merged[status])
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d "
      .. "connect_errors=%d read_errors=%d write_errors=%d http_errors=%d client_timeouts=%d "
      .. "statuses=%s retry_after_missing=%d server_timeouts=%d exhausted=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout,
    (#parts > 0) and table.concat(parts, ",") or "-", missing, timeouts, extra))
end

return lib
