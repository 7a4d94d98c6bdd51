#!/usr/bin/env bash
# The OpenAPI contract, checked from outside: schemathesis (a pinned version, a fixed seed)
# generates requests from GET /openapi.json against the built server and checks every answer
# against the document (status codes, content types, headers, schemas), that schema-valid input
# is accepted and schema-invalid input refused, that bearer routes refuse missing credentials, and
# chains operations statefully through the links the document declares.
#
# The server runs in memory with the registration limits raised for the fuzzing client (it
# registers hundreds of accounts from one address) and a breached-password list configured, so
# the password checks run as they do in a deployment. The login-failure throttles keep their
# defaults: they are already at the ASVS bound of 100 failures an hour, and the fuzzer's own
# refusals (429) are documented answers. Its tokens come from .ci/contract_hooks.py.
#   CARGO_TARGET_DIR        where cargo builds the server (default: target)
#   SCHEMATHESIS_EXAMPLES   examples per operation and phase (default 100)
#   SCHEMATHESIS_PHASES     the phases to run (default: all four)
#   SCHEMATHESIS_VERSION    "latest" for the newest release (default: the versions pinned in
#                           .ci/schemathesis-requirements.txt, which CI uses)
#   SCHEMATHESIS_SEED       the seed (default: a fixed one; "random" for none; CI keeps it)
#   AUTH_CI_CACHE           where schemathesis is installed (default ~/.cache/auth-ci)
# benches/explore-api.sh runs it unpinned, unseeded and longer, to look for what CI misses.
set -euo pipefail
cd "$(dirname "$0")/.."

seed="${SCHEMATHESIS_SEED:-20261129}"
examples="${SCHEMATHESIS_EXAMPLES:-100}"
cache="${AUTH_CI_CACHE:-$HOME/.cache/auth-ci}"
if [ "${SCHEMATHESIS_VERSION:-pinned}" = latest ]; then
  # A fresh install of the newest release each time.
  venv="$cache/schemathesis-latest"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis
else
  # One virtual environment per content of the pin file, kept between runs.
  requirements=.ci/schemathesis-requirements.txt
  venv="$cache/schemathesis-$(sha256sum "$requirements" | cut -c 1-16)"
  # The marker is written last, so an interrupted install is never taken for a good one.
  if [ ! -f "$venv/installed" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
    touch "$venv/installed"
  fi
fi
"$venv/bin/schemathesis" --version
seed_option=(--seed "$seed")
[ "$seed" != random ] || seed_option=()

# The binary the tests built (nothing to do after them): a build of auth-server alone would
# unify other features and rebuild most of the tree.
cargo test --workspace --all-features --no-run --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/auth-server"

work="$(mktemp -d)"
server_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  [ -z "$server_pid" ] || { kill -TERM "$server_pid" && wait "$server_pid"; } 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
printf '%s\n' 'password-from-a-breach-2024' 'Summer2024!Summer2024!' 'correct horse battery staple 1' \
  >"$work/breached.txt"

# Passkeys on (a relying party on the loopback origin), so their routes are fuzzed past 404.
PORT="$port" LOG_FORMAT=json LOG_LEVEL=warn \
  PASSKEY_RP_ID=localhost PASSKEY_ORIGINS="http://localhost:$port" \
  REGISTRATIONS_PER_ADDRESS_HOUR=100000 REGISTRATIONS_PER_MINUTE=1000000 \
  BREACHED_PASSWORDS_FILE="$work/breached.txt" \
  "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/health/readiness" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/health/readiness" >/dev/null || {
  echo "the server did not become ready:" >&2
  cat "$work/server.log" >&2
  exit 1
}

# Real accounts and tokens: .ci/contract_hooks.py registers and logs in an account whenever
# schemathesis needs a token, from another loopback address than the fuzzing requests.
export CONTRACT_PORT="$port"
export SCHEMATHESIS_HOOKS="$PWD/.ci/contract_hooks.py"

# A configuration file of our own (not schemathesis.toml, which it would also pick up from the
# working directory): an operation it cannot authenticate is a failure, not a warning.
cat >"$work/contract.toml" <<'EOF'
[warnings]
fail-on = ["missing_auth"]

# A mailed link's token of the right shape that names no link is gone (410 intent_invalid),
# as an unknown id is not found (404): an acceptance of schema-valid input, and a refusal of
# schema-invalid input, for the operations that take such a token.
[[operations]]
include-path-regex = "^/v1/auth/(email/verify|password/reset|login/email/verify|email/change/confirm|passkeys/reset/options)$"
checks.positive_data_acceptance.expected-statuses = ["2XX", "3XX", "401", "403", "404", "409", "410", "429", "5XX"]
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "410", "415", "422", "428", "429", "5XX"]

# A refresh may name scopes of the right shape that the session does not hold: schema-valid,
# and refused 400 invalid_scope (RFC 6749 section 6), which no schema can tell apart.
[[operations]]
include-path-regex = "^/v1/auth/refresh$"
checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "410", "429", "5XX"]

# A passkey ceremony's finish needs an authenticator's signature over the ceremony's
# challenge, which no generated body has (a step-up takes one too, beside a password or a
# code): a ceremony id of the right shape that names no live
# ceremony is gone (410 ceremony_invalid), and a credential object of the documented shape
# whose members do not decode (base64url, CBOR, clientDataJSON) is malformed (400). The
# ceremonies themselves run end to end in auth-server/tests/passkeys.rs.
[[operations]]
include-path-regex = "^/v1/auth/(passkeys/(register|login|mfa|reset)/finish|reauthenticate)$"
checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "410", "422", "429", "5XX"]
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "410", "415", "422", "428", "429", "5XX"]
EOF

cd "$work"
status=0
"$venv/bin/schemathesis" --config-file "$work/contract.toml" --no-color run "$base/openapi.json" \
  --url "$base" \
  --checks all \
  --phases "${SCHEMATHESIS_PHASES:-examples,coverage,fuzzing,stateful}" \
  --mode all \
  --max-examples "$examples" \
  "${seed_option[@]}" \
  --generation-database none \
  --workers 1 \
  --request-timeout 10 \
  --continue-on-failure || status=$?
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "the server logged errors during the run:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -n 20 >&2
  status=1
fi
exit "$status"
