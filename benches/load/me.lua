-- GET /v1/auth/me (or LOAD_PATH) with valid bearer tokens (LOAD_SEED_FILE: one access token
-- per line), each thread rotating through its share of them. LOAD_DELAY_MS paces each connection
-- (the background traffic of the storm); LOAD_COUNT_STATUS=0 leaves response() out, so
-- wrk parses no headers or bodies (only its own count of statuses >= 400 remains).
local lib = dofile(os.getenv("LOAD_LUA_DIR") .. "/lib.lua")

setup = lib.setup
done = lib.done

local requests = {}
local n, i = 0, 0
local path = os.getenv("LOAD_PATH") or "/v1/auth/me"

function init(_args)
  math.randomseed(os.time() + (thread_id or 0))
  for _, token in ipairs(lib.seeds()) do
    table.insert(requests, wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token }))
  end
  n = #requests
  assert(n > 0, "me.lua: no access tokens in LOAD_SEED_FILE")
end

function request()
  i = i % n + 1
  return requests[i]
end

if lib.paced then
  delay = lib.delay
end

if os.getenv("LOAD_COUNT_STATUS") ~= "0" then
  response = lib.count
end
