-- POST LOAD_PATH (a token endpoint) exchanging authorization codes: LOAD_SEED_FILE holds one
-- pre-minted code per line (each thread takes its share), LOAD_REDIRECT_URI and
-- LOAD_VERIFIER are what they were minted with, LOAD_BASIC the client's Basic credentials.
-- Every request spends a code of its own; once a thread's share is spent, its requests go
-- out with a code that cannot exist, are refused, and are counted as "exhausted", so a run
-- that outlasts its codes shows in the result.
local lib = dofile(os.getenv("LOAD_LUA_DIR") .. "/lib.lua")

setup = lib.setup
done = lib.done
response = lib.count

local codes = {}
local headers = {
  ["Authorization"] = "Basic " .. assert(os.getenv("LOAD_BASIC")),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
local path = assert(os.getenv("LOAD_PATH"))
local tail = "&redirect_uri=" .. assert(os.getenv("LOAD_REDIRECT_URI_ENCODED"))
  .. "&code_verifier=" .. assert(os.getenv("LOAD_VERIFIER"))

function init(_args)
  codes = lib.seeds()
  assert(#codes > 0, "oidc_code.lua: no codes in LOAD_SEED_FILE")
end

function request()
  local code = lib.take(codes)
  return wrk.format("POST", path, headers, "grant_type=authorization_code&code=" .. code .. tail)
end
