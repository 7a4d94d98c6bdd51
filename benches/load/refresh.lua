-- POST /v1/auth/refresh, chaining: refresh tokens are single-use and rotate, so every
-- successful answer's new refresh token goes back into the thread's pool and a later
-- request spends it. LOAD_SEED_FILE holds one refresh token per line (one session each);
-- each thread takes its share as its pool.
--
-- wrk calls response() for a connection before that connection asks request() for its
-- next request, and each request takes a token out of the pool, so no token is ever sent
-- twice: the pool holds exactly the tokens not yet spent. Give each thread more seeds than
-- connections (wrk also calls request() once at start-up to inspect it, which takes a
-- token that is never sent). A failed answer loses its token; if a pool ever runs dry, the
-- request goes out with a token that cannot exist, is refused 401 and counted as
-- "exhausted", so a broken chain shows in the result instead of silently slowing down.
local lib = dofile(os.getenv("LOAD_LUA_DIR") .. "/lib.lua")

setup = lib.setup
done = lib.done

local pool = {}
local headers = { ["Content-Type"] = "application/json" }

function init(_args)
  math.randomseed(os.time() + (thread_id or 0))
  pool = lib.seeds()
  assert(#pool > 0, "refresh.lua: no refresh tokens in LOAD_SEED_FILE")
end

function request()
  local token = lib.take(pool)
  return wrk.format("POST", "/v1/auth/refresh", headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, response_headers, body)
  lib.count(status, response_headers, body)
  if status == 200 then
    local token = string.match(body, '"refresh_token":"([^"]+)"')
    if token then
      table.insert(pool, token)
    end
  end
end

if lib.paced then
  delay = lib.delay
end
