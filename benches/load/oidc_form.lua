-- POST LOAD_PATH with the form LOAD_FORM and HTTP Basic client credentials LOAD_BASIC (base64
-- of id:secret): the OpenID provider scenarios' client_credentials grant and introspection,
-- the same bytes every time.
local lib = dofile(os.getenv("LOAD_LUA_DIR") .. "/lib.lua")

setup = lib.setup
done = lib.done
response = lib.count

local prepared

-- In init(), once wrk knows the Host header: a request formatted earlier has none, which
-- some servers refuse (400).
function init(_args)
  local body = assert(os.getenv("LOAD_FORM"), "oidc_form.lua: LOAD_FORM is needed")
  prepared = wrk.format("POST", assert(os.getenv("LOAD_PATH")), {
    ["Authorization"] = "Basic " .. assert(os.getenv("LOAD_BASIC")),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

function request()
  return prepared
end
