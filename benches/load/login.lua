-- POST /v1/auth/login with the seeded accounts (LOAD_SEED_FILE: one email per line; every
-- account has the password LOAD_PASSWORD), each thread rotating through its share.
-- LOAD_DELAY_MS paces each connection, which is how the storm offers a fixed rate.
local lib = dofile(os.getenv("LOAD_LUA_DIR") .. "/lib.lua")

setup = lib.setup
done = lib.done
response = lib.count

local requests = {}
local n, i = 0, 0

function init(_args)
  math.randomseed(os.time() + (thread_id or 0))
  local password = assert(os.getenv("LOAD_PASSWORD"), "login.lua: LOAD_PASSWORD unset")
  local headers = { ["Content-Type"] = "application/json" }
  for _, email in ipairs(lib.seeds()) do
    local body = '{"email":"' .. email .. '","password":"' .. password .. '"}'
    table.insert(requests, wrk.format("POST", "/v1/auth/login", headers, body))
  end
  n = #requests
  assert(n > 0, "login.lua: no accounts in LOAD_SEED_FILE")
end

function request()
  i = i % n + 1
  return requests[i]
end

if lib.paced then
  delay = lib.delay
end
