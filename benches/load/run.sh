#!/usr/bin/env bash
# Load harness for auth-server: starts the release server against the local PostgreSQL and
# Redis (or in memory), seeds accounts over HTTP, drives it with wrk over loopback and prints
# one summary line per scenario (throughput, latency percentiles, errors by status, the
# server's peak RSS).
#
#   benches/load/run.sh [all|login|me|me-memory|me-pg|refresh|storm|auth-layer|oidc-peer]...
#
# (all leaves oidc-peer out: it installs oidc-provider with npm and mints codes first.)
#
# Scenarios:
#   login      single-hash time (sequential logins, one connection) and the argon2 limit it
#              implies (cores / hash time), then logins/s at a concurrency the hashing pool
#              admits without refusing, compared with that limit
#   me-memory  GET /v1/auth/me with valid bearer tokens, in-memory backends
#   me-pg      the same on PostgreSQL + Redis (me runs both)
#   refresh    POST /v1/auth/refresh on PostgreSQL + Redis, each connection chaining the
#              rotated token from the answer it got
#   storm      logins offered at LOAD_STORM_FACTOR (10) times the argon2 limit, while paced
#              GET /me and refresh run: their p99, timeouts, and how excess logins are refused
#   auth-layer a trivial axum handler (benches/examples/auth_layer_target.rs) bare, behind
#              AuthLayer with its verified-token cache, and behind AuthLayer without it: the
#              layer's share of throughput (target: the cached layer keeps >= 90%)
#   oidc-peer  the OpenID provider (PostgreSQL + Redis) beside npm's oidc-provider (in memory,
#              benches/oidc-peer, installed from the registry by npm ci), the same wrk runs
#              against each: the client_credentials grant, introspection of a service's token,
#              and the exchange of codes pre-minted through each library's own API
#              (benches/examples/mint_codes.rs, oidc-provider's models), EdDSA JWT access and
#              ID tokens on both sides (targets: >= 5x the peer's throughput and a lower p99
#              for client credentials and introspection)
# Every scenario line carries the server's peak RSS (VmHWM) during it; each server start
# and stop prints its idle RSS, its peak over the loads and its RSS after them.
#
# Environment (defaults in brackets):
#   LOAD_DURATION [20s]        duration of each measured run (wrk syntax: 5s, 1m)
#   LOAD_CALIBRATE [5s]        duration of the sequential-login calibration
#   LOAD_CONNECTIONS [64]      connections of the me and refresh runs
#   LOAD_THREADS [2]           wrk threads
#   LOAD_USERS [16]            seeded accounts (also the number of access tokens for me)
#   LOAD_STORM_FACTOR [10]     storm login rate, in multiples of the argon2 limit
#   LOAD_STORM_ME_RATE [1000]  GET /me per second during the storm
#   LOAD_STORM_REFRESH_RATE [200]  refreshes per second during the storm
#   LOAD_PORT [18480]          server port (requests go to 127.0.0.1 only)
#   LOAD_PG_URL [postgres://postgres@127.0.0.1:5432]  server; a scratch database is
#                              created in it and dropped on exit
#   LOAD_REDIS_URL [redis://127.0.0.1:6379], LOAD_REDIS_DB [8]: the logical database is
#                              flushed at start and at exit, so it must be one of its own
#   LOAD_SERVER_CPUS, LOAD_CLIENT_CPUS  taskset CPU lists to pin the server and wrk (unset:
#                              no pinning, both share every core)
#   LOAD_COUNT_STATUS [1]      0 leaves wrk's response() hook out of the me runs (less client
#                              CPU; errors then only as wrk's count of statuses >= 400)
#   LOAD_KEEP [0]              1 keeps the work directory (server logs, wrk outputs)
#   LOAD_PROFILE [0]           1 samples the server with perf (cpu-clock, 999 Hz) during each
#                              measured run and prints its hottest functions; the work
#                              directory is kept with the perf data (needs perf)
#   LOAD_SKIP_BUILD [0]        1 uses target/release/auth-server without building it
#   LOAD_PEER_PORT [18490]     oidc-provider's port (oidc-peer)
#   LOAD_CODES [60000]         codes minted on each side for the code exchange runs
#   ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, PASSWORD_HASH_CONCURRENCY,
#   PASSWORD_HASH_QUEUE, PASSWORD_HASH_NICENESS, TOKEN_CACHE_SIZE
#                              passed to the server when set (its defaults otherwise), so
#                              unset them unless they are what is being measured
#
# Needs: cargo, curl, psql, redis-cli, awk, wrk (installed with apt-get when missing).

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

DURATION="${LOAD_DURATION:-20s}"
CALIBRATE="${LOAD_CALIBRATE:-5s}"
CONNECTIONS="${LOAD_CONNECTIONS:-64}"
THREADS="${LOAD_THREADS:-2}"
USERS="${LOAD_USERS:-16}"
STORM_FACTOR="${LOAD_STORM_FACTOR:-10}"
STORM_ME_RATE="${LOAD_STORM_ME_RATE:-1000}"
STORM_REFRESH_RATE="${LOAD_STORM_REFRESH_RATE:-200}"
PORT="${LOAD_PORT:-18480}"
PG_URL="${LOAD_PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_BASE="${LOAD_REDIS_URL:-redis://127.0.0.1:6379}"
REDIS_DB="${LOAD_REDIS_DB:-8}"
SERVER_CPUS="${LOAD_SERVER_CPUS:-}"
CLIENT_CPUS="${LOAD_CLIENT_CPUS:-}"
KEEP="${LOAD_KEEP:-0}"
PROFILE="${LOAD_PROFILE:-0}"
if [[ "$PROFILE" == 1 ]]; then KEEP=1; fi
SKIP_BUILD="${LOAD_SKIP_BUILD:-0}"

BASE_URL="http://127.0.0.1:$PORT"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/auth-server"
LAYER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/auth_layer_target"
MINT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mint_codes"
PEER_PORT="${LOAD_PEER_PORT:-18490}"
CODES="${LOAD_CODES:-60000}"
PASSWORD="load harness password"
REQUEST_TIMEOUT=5   # the server answers 503 timeout after this many seconds
WRK_TIMEOUT=10s     # longer than the server's deadline, so its 503s show before wrk gives up
SPARES=4            # refresh tokens per wrk thread beyond one per connection
IDLE_AGAIN=11       # seconds of quiet before the last RSS reading (buffers go after 10 s idle)

WORK=""
DB_NAME=""
SERVER_PID=""
SERVER_BACKEND=""
SERVER_PEAK_KIB=0
SERVER_IDLE_KIB=0
SIGNING_KEYS=""
PEAK_RESETTABLE=1
HASH_MS=""
LIMIT=""
CORES=""
SAMPLER_PID=""
PERF_PID=""
WINDOWS=0
CLK_TCK=$(getconf CLK_TCK)
declare -a WRK_PIDS=()

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# --- cleanup ------------------------------------------------------------------------------

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${WRK_PIDS[@]}" $SAMPLER_PID $PERF_PID; do
    kill "$pid" 2>/dev/null || true
  done
  stop_server quiet || true
  if [[ -n "$DB_NAME" ]]; then
    psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" \
      >/dev/null 2>&1 || log "could not drop database $DB_NAME"
  fi
  if [[ -n "$WORK" ]]; then
    redis-cli -u "$REDIS_BASE/$REDIS_DB" flushdb >/dev/null 2>&1 || true
    if [[ "$KEEP" == 1 ]]; then
      log "work directory kept: $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$status"
}

# --- small helpers ------------------------------------------------------------------------

# Floating-point arithmetic: calc '<awk expression>'.
calc() { awk "BEGIN { printf \"%s\", $1 }"; }

# The value of key=value in a RESULT line.
field() {
  local re="(^| )$1=([^ ]*)"
  if [[ $2 =~ $re ]]; then
    printf '%s' "${BASH_REMATCH[2]}"
  else
    printf ''
  fi
}

# The count for one status in a statuses=200:10,503:4 field.
status_count() {
  local statuses=$1 code=$2 item
  for item in ${statuses//,/ }; do
    if [[ "${item%%:*}" == "$code" ]]; then
      printf '%s' "${item#*:}"
      return
    fi
  done
  printf '0'
}

# A value from the server's /metrics (first sample with that exact name, labels included;
# 0 when there is none yet).
metric() {
  curl -sf "$BASE_URL/metrics" | awk -v name="$1" '$1 == name { v = $2 } END { print v + 0 }'
}

# Refresh outcomes the server counted: "ROTATED REUSED".
refresh_counts() {
  local page
  page=$(curl -sf "$BASE_URL/metrics")
  awk '$1 == "auth_refresh_total{outcome=\"rotated\"}" { r = $2 }
       $1 == "auth_refresh_total{outcome=\"reused\"}" { u = $2 }
       END { printf "%d %d\n", r, u }' <<<"$page"
}

# pin CPUS: sets PIN to the command prefix that pins to the CPU list (empty: no pinning).
# A prefix rather than a wrapper function, so that "${PIN[@]}" cmd & gives cmd's own pid.
declare -a PIN=()
pin() {
  PIN=()
  if [[ -n "$1" ]]; then PIN=(taskset -c "$1"); fi
}

email_of() { printf 'load-%d@example.com' "$1"; }

# --- server -------------------------------------------------------------------------------

rss_kib() {
  awk -v key="$1:" '$1 == key { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0
}

mib() { calc "$1 / 1024"; }

# CPU time the server has used, in clock ticks (utime + stime from /proc/PID/stat).
cpu_ticks() {
  local stat
  stat=$(<"/proc/$SERVER_PID/stat")
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}

# A measurement window: window_start resets VmHWM to the current RSS (clear_refs 5) and
# notes the server's CPU time; window_end sets WIN_PEAK (VmHWM in MiB since the start) and
# WIN_CPU (cores the server kept busy on average), and keeps the server-wide peak.
WIN_CPU0=0
WIN_T0=0
WIN_PEAK=0
WIN_CPU=0
window_start() {
  if [[ "$PEAK_RESETTABLE" == 1 ]] && ! { echo 5 >"/proc/$SERVER_PID/clear_refs"; } 2>/dev/null; then
    PEAK_RESETTABLE=0
    log "cannot reset VmHWM (clear_refs); peak RSS figures are since the server started"
  fi
  WINDOWS=$(( WINDOWS + 1 ))
  if [[ "$PROFILE" == 1 ]]; then
    perf record -q -e cpu-clock -F 999 -p "$SERVER_PID" -o "$WORK/window-$WINDOWS.perf" \
      >"$WORK/window-$WINDOWS.perf.log" 2>&1 &
    PERF_PID=$!
    sleep 0.5
  fi
  WIN_CPU0=$(cpu_ticks)
  WIN_T0=$(date +%s%N)
}

# The server's hottest functions in the window just ended (LOAD_PROFILE=1), to stderr.
window_profile() {
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  local data="$WORK/window-$WINDOWS.perf"
  perf report -i "$data" --stdio --no-children --sort symbol --percent-limit 1.5 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' | cut -c1-160 |
    head -n 25 >"$data.txt" || true
  log "profile of run $WINDOWS (perf report -i $data):"
  sed 's/^/#   /' "$data.txt" >&2
}

window_end() {
  local peak ticks t1
  peak=$(rss_kib VmHWM)
  ticks=$(cpu_ticks)
  t1=$(date +%s%N)
  if (( peak > SERVER_PEAK_KIB )); then SERVER_PEAK_KIB=$peak; fi
  WIN_PEAK=$(mib "$peak")
  WIN_CPU=$(calc "($ticks - $WIN_CPU0) / $CLK_TCK / (($t1 - $WIN_T0) / 1000000000)")
  if [[ -n "$PERF_PID" ]]; then window_profile; fi
}

start_server() {
  local backend=$1
  if [[ "$SERVER_BACKEND" == "$backend" ]]; then return; fi
  stop_server
  local -a env=(
    "PATH=$PATH"
    "PORT=$PORT"
    "AUTH_ENV=development"
    "LOG_LEVEL=warn"
    "LOG_FORMAT=json"
    "REQUEST_TIMEOUT=$REQUEST_TIMEOUT"
    "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576"
    "AUTH_SIGNING_KEYS=$SIGNING_KEYS"
  )
  local name
  for name in ARGON2_MEMORY_KIB ARGON2_ITERATIONS ARGON2_PARALLELISM \
    PASSWORD_HASH_CONCURRENCY PASSWORD_HASH_QUEUE PASSWORD_HASH_NICENESS TOKEN_CACHE_SIZE; do
    if [[ -n "${!name:-}" ]]; then env+=("$name=${!name}"); fi
  done
  if [[ "$backend" == pg ]]; then
    ensure_database
    env+=("DATABASE_URL=$PG_URL/$DB_NAME" "REDIS_URL=$REDIS_BASE/$REDIS_DB")
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is already in use (set LOAD_PORT)"
  fi
  pin "$SERVER_CPUS"
  "${PIN[@]}" env -i "${env[@]}" "$BIN" serve >>"$WORK/server-$backend.log" 2>&1 &
  SERVER_PID=$!
  SERVER_BACKEND=$backend
  SERVER_PEAK_KIB=0
  local i
  for ((i = 0; i < 300; i++)); do
    if curl -sf -o /dev/null "$BASE_URL/health/readiness"; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$backend.log" >&2; die "the server exited"; }
    sleep 0.1
  done
  curl -sf -o /dev/null "$BASE_URL/health/readiness" || die "the server is not ready after 30 s"
  CORES=$("${PIN[@]}" nproc)
  sleep 1
  local idle
  idle=$(rss_kib VmRSS)
  SERVER_IDLE_KIB=$idle
  printf '%-15s started (%s), cores: %s, hashing pool %s workers + %s waiting; idle RSS %.1f MiB\n' \
    "server-$backend" "$(backend_name "$backend")" "$CORES" "$(metric auth_password_hash_workers)" \
    "$(( $(metric auth_password_hash_capacity) - $(metric auth_password_hash_workers) ))" "$(mib "$idle")"
  seed_users
}

backend_name() {
  if [[ "$1" == pg ]]; then echo "PostgreSQL + Redis"; else echo "in-memory"; fi
}

stop_server() {
  if [[ -z "$SERVER_PID" ]]; then return 0; fi
  if [[ "${1:-}" != quiet ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    sleep 1
    local now peak
    now=$(rss_kib VmRSS)
    peak=$(rss_kib VmHWM)
    if (( peak > SERVER_PEAK_KIB )); then SERVER_PEAK_KIB=$peak; fi
    # The hashing threads let their Argon2 buffers go after 10 s without work.
    sleep "$IDLE_AGAIN"
    local later
    later=$(rss_kib VmRSS)
    printf '%-15s idle RSS %.1f MiB, peak RSS over its loads %.1f MiB, RSS 1 s after them %.1f MiB, %d s after %.1f MiB\n' \
      "rss-$SERVER_BACKEND" "$(mib "$SERVER_IDLE_KIB")" "$(mib "$SERVER_PEAK_KIB")" "$(mib "$now")" \
      $(( IDLE_AGAIN + 1 )) "$(mib "$later")"
  fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  SERVER_BACKEND=""
}

ensure_database() {
  if [[ -n "$DB_NAME" ]]; then return; fi
  local name
  name="auth_load_$$_$(date +%s)"
  psql "$PG_URL/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null
  DB_NAME=$name
  DATABASE_URL="$PG_URL/$DB_NAME" "$BIN" migrate >>"$WORK/migrate.log" 2>&1 ||
    { cat "$WORK/migrate.log" >&2; die "migrate failed"; }
}

# --- seeding ------------------------------------------------------------------------------

seed_users() {
  local i code
  : >"$WORK/emails"
  for ((i = 0; i < USERS; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE_URL/v1/auth/register" \
      -H 'content-type: application/json' \
      -d "{\"email\":\"$(email_of "$i")\",\"password\":\"$PASSWORD\"}")
    [[ "$code" == 201 || "$code" == 409 ]] || die "register answered $code"
    email_of "$i" >>"$WORK/emails"
    printf '\n' >>"$WORK/emails"
  done
}

# seed_sessions COUNT PREFIX: COUNT logins (four at a time, round robin over the accounts);
# writes PREFIX.access and PREFIX.refresh, one token per line.
seed_sessions() {
  local count=$1 prefix=$2 i
  local -a pids=()
  rm -f "$prefix".part.*
  for ((i = 0; i < count; i++)); do
    curl -s -X POST "$BASE_URL/v1/auth/login" -H 'content-type: application/json' \
      -d "{\"email\":\"$(email_of $((i % USERS)))\",\"password\":\"$PASSWORD\"}" \
      >"$prefix.part.$i" &
    pids+=("$!")
    if (( ${#pids[@]} == 4 )); then
      wait "${pids[@]}"
      pids=()
    fi
  done
  if (( ${#pids[@]} > 0 )); then wait "${pids[@]}"; fi
  cat "$prefix".part.* | grep -o '"access_token":"[^"]*"' | cut -d'"' -f4 >"$prefix.access" || true
  cat "$prefix".part.* | grep -o '"refresh_token":"[^"]*"' | cut -d'"' -f4 >"$prefix.refresh" || true
  rm -f "$prefix".part.*
  local got
  got=$(wc -l <"$prefix.refresh")
  (( got == count )) || die "seeding: $got of $count logins succeeded"
}

# --- wrk ----------------------------------------------------------------------------------

# run_wrk NAME SCRIPT CONNECTIONS THREADS DURATION [VAR=value...]: runs wrk in the foreground
# (or, with WRK_BACKGROUND=1, in the background, its pid in WRK_PIDS); output in NAME.wrk.
run_wrk() {
  local name=$1 script=$2 conns=$3 threads=$4 dur=$5
  shift 5
  if (( threads > conns )); then threads=$conns; fi
  local -a cmd=(env "LOAD_LUA_DIR=$HERE" "LOAD_THREADS=$threads" "$@"
    wrk "-t$threads" "-c$conns" "-d$dur" --timeout "$WRK_TIMEOUT" --latency
    -s "$HERE/$script" "$BASE_URL")
  pin "$CLIENT_CPUS"
  if [[ "${WRK_BACKGROUND:-0}" == 1 ]]; then
    "${PIN[@]}" "${cmd[@]}" >"$WORK/$name.wrk" 2>&1 &
    WRK_PIDS+=("$!")
  else
    "${PIN[@]}" "${cmd[@]}" >"$WORK/$name.wrk" 2>&1 ||
      { cat "$WORK/$name.wrk" >&2; die "wrk failed ($name)"; }
  fi
}

result_of() {
  local line
  line=$(grep '^RESULT ' "$WORK/$1.wrk" | tail -n 1) ||
    { cat "$WORK/$1.wrk" >&2; die "no result from wrk ($1)"; }
  printf '%s' "$line"
}

# Everything that is not a 2xx answer, by status, plus socket errors and timeouts.
errors_of() {
  local r=$1 out="" item code
  local statuses
  statuses=$(field statuses "$r")
  if [[ "$statuses" == - ]]; then
    local http
    http=$(field http_errors "$r")
    if (( http > 0 )); then out+=" >=400:$http"; fi
  else
    for item in ${statuses//,/ }; do
      code=${item%%:*}
      if [[ "$code" != 2* ]]; then out+=" $item"; fi
    done
  fi
  local key
  for key in connect_errors read_errors write_errors client_timeouts server_timeouts exhausted; do
    local n
    n=$(field "$key" "$r")
    if (( ${n:-0} > 0 )); then out+=" $key:$n"; fi
  done
  printf '%s' "${out:- none}"
}

# ms value of a *_us field.
ms() { calc "$(field "$1" "$2") / 1000"; }

rps_of() { calc "$(field requests "$1") / ($(field duration_us "$1") / 1000000)"; }

# summary NAME UNIT RESULT [NOTE]: the one line of a scenario (after window_end).
summary() {
  local name=$1 unit=$2 r=$3 note=${4:-}
  printf '%-15s %9.1f %s  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %8.2f ms  n=%s  errors:%s  peak RSS %.1f MiB  server CPU %.2f cores%s\n' \
    "$name" "$(rps_of "$r")" "$unit" "$(ms p50_us "$r")" "$(ms p95_us "$r")" "$(ms p99_us "$r")" \
    "$(ms max_us "$r")" "$(field requests "$r")" "$(errors_of "$r")" "$WIN_PEAK" "$WIN_CPU" "${note:+  $note}"
}

verdict() {
  # verdict VALUE OP TARGET: "met" or "missed".
  if [[ $(calc "($1 $2 $3) ? 1 : 0") == 1 ]]; then printf 'met'; else printf 'missed'; fi
}

# --- scenarios ----------------------------------------------------------------------------

# --- the OpenID provider beside npm's oidc-provider ---------------------------------------

OIDC_REDIRECT="https://rp.example.com/callback"
OIDC_REDIRECT_ENCODED="https%3A%2F%2Frp.example.com%2Fcallback"
OIDC_VERIFIER="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

# The release server's command line against the scratch database.
server_cli() { DATABASE_URL="$PG_URL/$DB_NAME" "$BIN" "$@"; }

# A top-level string field of the JSON on stdin.
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

basic_of() { printf '%s:%s' "$1" "$2" | base64 -w0; }

# oidc_run NAME SCRIPT NOTE VAR=value...: one measured run against BASE_URL (its server's pid
# in SERVER_PID), its summary line printed and its RESULT line in OIDC_RESULT.
oidc_run() {
  local name=$1 script=$2 note=$3
  shift 3
  window_start
  run_wrk "$name" "$script" "$CONNECTIONS" "$THREADS" "$DURATION" "$@"
  window_end
  OIDC_RESULT=$(result_of "$name")
  summary "$name" 'req/s' "$OIDC_RESULT" "$note, $CONNECTIONS connections"
}

# oidc_runs SIDE TOKEN_PATH INTROSPECT_PATH BASIC CC_FORM INTROSPECT_TOKEN CODE_BASIC: the three
# runs of one side; their results in OIDC_<SIDE>_{CC,IN,CODE}.
oidc_runs() {
  local side=$1 token_path=$2 introspect_path=$3 basic=$4 cc_form=$5 token=$6 code_basic=$7
  oidc_run "$side-cc" oidc_form.lua client_credentials \
    "LOAD_PATH=$token_path" "LOAD_BASIC=$basic" "LOAD_FORM=$cc_form"
  printf -v "OIDC_${side^^}_CC" '%s' "$OIDC_RESULT"
  oidc_run "$side-introspect" oidc_form.lua "a service's own token" \
    "LOAD_PATH=$introspect_path" "LOAD_BASIC=$basic" "LOAD_FORM=token=$token"
  printf -v "OIDC_${side^^}_IN" '%s' "$OIDC_RESULT"
  oidc_run "$side-code" oidc_code.lua "pre-minted codes" \
    "LOAD_PATH=$token_path" "LOAD_BASIC=$code_basic" "LOAD_SEED_FILE=$WORK/$side.codes" \
    "LOAD_REDIRECT_URI_ENCODED=$OIDC_REDIRECT_ENCODED" "LOAD_VERIFIER=$OIDC_VERIFIER"
  printf -v "OIDC_${side^^}_CODE" '%s' "$OIDC_RESULT"
}

# compare WHAT OURS PEER TARGET: throughput ratio and p99s; with TARGET, the verdict on
# ">= TARGET x the throughput and a lower p99".
compare() {
  local what=$1 ours=$2 peer=$3 target=${4:-} ratio verdict=""
  ratio=$(calc "$(rps_of "$ours") / $(rps_of "$peer")")
  if [[ -n "$target" ]]; then
    if [[ $(verdict "$ratio" '>=' "$target") == met && \
      $(verdict "$(field p99_us "$ours")" '<' "$(field p99_us "$peer")") == met ]]; then
      verdict="  target >= ${target}x and a lower p99: met"
    else
      verdict="  target >= ${target}x and a lower p99: missed"
    fi
  fi
  printf '%-15s %6.2fx the throughput (%.0f vs %.0f req/s), p99 %.2f vs %.2f ms%s\n' \
    "$what" "$ratio" "$(rps_of "$ours")" "$(rps_of "$peer")" "$(ms p99_us "$ours")" \
    "$(ms p99_us "$peer")" "$verdict"
}

scenario_oidc_peer() {
  start_server pg
  # Ours: a service (client_credentials is a client of its own here) and a first-party web
  # client whose ID tokens are EdDSA, registered as an operator would.
  local service service_id service_secret web web_id web_secret token
  service=$(server_cli client create --name "Bench service" --grant client_credentials \
    --scope orders:read --audience https://orders.example.com --actor load)
  service_id=$(json_field client_id <<<"$service")
  service_secret=$(json_field client_secret <<<"$service")
  web=$(server_cli client create --name "Bench web" --redirect-uri "$OIDC_REDIRECT" \
    --scope openid --first-party --no-refresh --id-token-alg EdDSA --actor load)
  web_id=$(json_field client_id <<<"$web")
  web_secret=$(json_field client_secret <<<"$web")
  token=$(curl -sf -u "$service_id:$service_secret" -d grant_type=client_credentials \
    "$BASE_URL/oauth2/token" | json_field access_token)
  log "minting $CODES codes through auth-core into the server's database"
  DATABASE_URL="$PG_URL/$DB_NAME" "$MINT_BIN" "$web_id" "$(email_of 0)" "$OIDC_REDIRECT" \
    "$CODES" "$WORK/ours.codes"
  oidc_runs ours /oauth2/token /oauth2/introspect "$(basic_of "$service_id" "$service_secret")" \
    'grant_type=client_credentials&scope=orders%3Aread' "$token" \
    "$(basic_of "$web_id" "$web_secret")"
  stop_server

  # The peer: npm's oidc-provider, its one client for every run.
  log "installing oidc-provider (npm ci) and minting $CODES codes through its models"
  (cd "$ROOT/benches/oidc-peer" && npm ci --no-audit --no-fund --silent)
  if (exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT") 2>/dev/null; then
    die "port $PEER_PORT is already in use (set LOAD_PEER_PORT)"
  fi
  pin "$SERVER_CPUS"
  "${PIN[@]}" node "$ROOT/benches/oidc-peer/provider.mjs" "$PEER_PORT" "$WORK/peer.codes" \
    "$CODES" >"$WORK/peer.log" 2>&1 &
  local peer_pid=$! i
  for ((i = 0; i < 1200; i++)); do
    grep -q '^ready' "$WORK/peer.log" && break
    kill -0 "$peer_pid" 2>/dev/null || { cat "$WORK/peer.log" >&2; die "oidc-provider exited"; }
    sleep 0.1
  done
  grep -q '^ready' "$WORK/peer.log" || die "oidc-provider is not ready after 120 s"
  printf '%-15s started (oidc-provider %s on node %s, in memory); idle RSS %.1f MiB\n' "peer" \
    "$(node -p "require('$ROOT/benches/oidc-peer/node_modules/oidc-provider/package.json').version")" \
    "$(node -v)" "$(mib "$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$peer_pid/status")")"
  local ours_base=$BASE_URL peer_basic
  BASE_URL="http://127.0.0.1:$PEER_PORT"
  SERVER_PID=$peer_pid
  peer_basic=$(basic_of bench bench-secret-0123456789abcdefghijklmnopqrstuv)
  # oidc-provider introspects opaque tokens only: the token introspected is one.
  token=$(curl -sf -H "Authorization: Basic $peer_basic" -d grant_type=client_credentials \
    -d scope=orders:read -d resource=https://opaque.example.com "$BASE_URL/token" |
    json_field access_token)
  oidc_runs peer /token /token/introspection "$peer_basic" \
    'grant_type=client_credentials&scope=orders%3Aread' "$token" "$peer_basic"
  kill -TERM "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
  SERVER_PID=""
  BASE_URL=$ours_base

  compare cc "$OIDC_OURS_CC" "$OIDC_PEER_CC" 5
  compare introspect "$OIDC_OURS_IN" "$OIDC_PEER_IN" 5
  compare code "$OIDC_OURS_CODE" "$OIDC_PEER_CODE"
}

# The argon2 limit: cores / single-hash time. The hash time is the server's own
# auth_password_hash_duration_seconds (sum / count) over sequential logins on one
# connection: one hash at a time, so no wait for a slot is included, and the parameters,
# build and allocator settings are exactly the server's. The login latency of the same run is
# printed beside it as an upper bound (HTTP, JSON, database and token signing included).
calibrate() {
  if [[ -n "$HASH_MS" ]]; then return; fi
  start_server pg
  local sum0 count0 sum1 count1 r
  sum0=$(metric auth_password_hash_duration_seconds_sum)
  count0=$(metric auth_password_hash_duration_seconds_count)
  window_start
  run_wrk login-seq login.lua 1 1 "$CALIBRATE" "LOAD_SEED_FILE=$WORK/emails" "LOAD_PASSWORD=$PASSWORD"
  window_end
  r=$(result_of login-seq)
  sum1=$(metric auth_password_hash_duration_seconds_sum)
  count1=$(metric auth_password_hash_duration_seconds_count)
  (( $(calc "$count1 - $count0") > 0 )) || die "calibration: no hash recorded"
  HASH_MS=$(calc "($sum1 - $sum0) * 1000 / ($count1 - $count0)")
  LIMIT=$(calc "$CORES * 1000 / $HASH_MS")
  summary login-seq 'logins/s' "$r" \
    "$(printf 'one connection; server hash time %.2f ms (%d hashes) -> argon2 limit %s cores / %.2f ms = %.1f logins/s' \
      "$HASH_MS" "$(calc "$count1 - $count0")" "$CORES" "$HASH_MS" "$LIMIT")"
}

scenario_login() {
  calibrate
  local workers capacity conns r rps
  workers=$(metric auth_password_hash_workers)
  capacity=$(metric auth_password_hash_capacity)
  # Enough logins in flight to keep every worker busy, never more than the pool admits.
  conns=$(( workers * 4 ))
  if (( conns > capacity )); then conns=$capacity; fi
  # The hash time with every worker busy: one connection per worker, so no login waits for a
  # slot and the server's metric (which includes that wait) is the hash alone. Above the
  # single-hash time when hashes running side by side slow each other down (shared caches,
  # memory bandwidth, SMT siblings).
  local sum0 count0 sum1 count1 par_ms
  sum0=$(metric auth_password_hash_duration_seconds_sum)
  count0=$(metric auth_password_hash_duration_seconds_count)
  window_start
  run_wrk login-par login.lua "$workers" "$workers" "$CALIBRATE" "LOAD_SEED_FILE=$WORK/emails" "LOAD_PASSWORD=$PASSWORD"
  window_end
  sum1=$(metric auth_password_hash_duration_seconds_sum)
  count1=$(metric auth_password_hash_duration_seconds_count)
  (( $(calc "$count1 - $count0") > 0 )) || die "login-par: no hash recorded"
  par_ms=$(calc "($sum1 - $sum0) * 1000 / ($count1 - $count0)")
  r=$(result_of login-par)
  summary login-par 'logins/s' "$r" \
    "$(printf '%d connections; server hash time %.2f ms with %d at once (%.2f ms alone): %d / %.2f ms = %.1f logins/s' \
      "$workers" "$par_ms" "$workers" "$HASH_MS" "$workers" "$par_ms" "$(calc "$workers * 1000 / $par_ms")")"
  window_start
  run_wrk login login.lua "$conns" "$THREADS" "$DURATION" "LOAD_SEED_FILE=$WORK/emails" "LOAD_PASSWORD=$PASSWORD"
  window_end
  r=$(result_of login)
  rps=$(rps_of "$r")
  summary login 'logins/s' "$r" \
    "$(printf '%d connections; %.0f%% of the argon2 limit %.1f/s' "$conns" "$(calc "$rps * 100 / $LIMIT")" "$LIMIT")"
}

run_me() {
  local backend=$1 name=$2 r rps
  start_server "$backend"
  seed_sessions "$USERS" "$WORK/me"
  window_start
  run_wrk "$name" me.lua "$CONNECTIONS" "$THREADS" "$DURATION" "LOAD_SEED_FILE=$WORK/me.access"
  window_end
  r=$(result_of "$name")
  rps=$(rps_of "$r")
  local note
  note="$CONNECTIONS connections"
  if [[ "$backend" == memory ]]; then
    note+="; target >= 44000 req/s: $(verdict "$rps" '>=' 44000)"
  fi
  summary "$name" 'req/s' "$r" "$note"
}

scenario_me_memory() { run_me memory me-memory; }
scenario_me_pg() { run_me pg me-pg; }

scenario_refresh() {
  start_server pg
  local r rps per_core threads=$THREADS
  if (( threads > CONNECTIONS )); then threads=$CONNECTIONS; fi
  seed_sessions $(( CONNECTIONS + SPARES * threads )) "$WORK/refresh"
  local rot0 reu0 rot1 reu1
  read -r rot0 reu0 < <(refresh_counts)
  window_start
  run_wrk refresh refresh.lua "$CONNECTIONS" "$threads" "$DURATION" "LOAD_SEED_FILE=$WORK/refresh.refresh"
  window_end
  r=$(result_of refresh)
  read -r rot1 reu1 < <(refresh_counts)
  rps=$(rps_of "$r")
  per_core=$(calc "$rps / $CORES")
  summary refresh 'req/s' "$r" \
    "$(printf '%d connections, chained (server: %d rotated, %d reused); %.0f/s per core: target >= 1200/s per core: %s' \
      "$CONNECTIONS" $(( rot1 - rot0 )) $(( reu1 - reu0 )) "$per_core" "$(verdict "$per_core" '>=' 1200)")"
}

# Connections and per-connection pause (ms) to offer RATE requests/s with pauses of about
# 100 ms (at least 2 connections); prints "CONNECTIONS DELAY_MS".
pacing() {
  local rate=$1 conns
  conns=$(calc "int($rate / 10 + 0.999)")
  if (( conns < 2 )); then conns=2; fi
  printf '%s %s\n' "$conns" "$(calc "$conns * 1000 / $rate")"
}

scenario_storm() {
  calibrate
  start_server pg
  local login_rate login_conns login_delay me_conns me_delay ref_conns ref_delay workers capacity
  workers=$(metric auth_password_hash_workers)
  capacity=$(metric auth_password_hash_capacity)
  login_rate=$(calc "$LIMIT * $STORM_FACTOR")
  read -r login_conns login_delay < <(pacing "$login_rate")
  # Up to "capacity" connections wait for their hash at any moment; more connections so
  # the others still offer the rate.
  login_conns=$(( login_conns + capacity ))
  read -r me_conns me_delay < <(pacing "$STORM_ME_RATE")
  read -r ref_conns ref_delay < <(pacing "$STORM_REFRESH_RATE")
  local ref_threads=$THREADS
  if (( ref_threads > ref_conns )); then ref_threads=$ref_conns; fi
  seed_sessions "$USERS" "$WORK/storm-me"
  seed_sessions $(( ref_conns + SPARES * ref_threads )) "$WORK/storm"
  window_start
  WRK_PIDS=()
  WRK_BACKGROUND=1 run_wrk storm-me me.lua "$me_conns" "$THREADS" "$DURATION" \
    "LOAD_SEED_FILE=$WORK/storm-me.access" "LOAD_DELAY_MS=$me_delay"
  WRK_BACKGROUND=1 run_wrk storm-refresh refresh.lua "$ref_conns" "$ref_threads" "$DURATION" \
    "LOAD_SEED_FILE=$WORK/storm.refresh" "LOAD_DELAY_MS=$ref_delay"
  WRK_BACKGROUND=1 run_wrk storm-login login.lua "$login_conns" "$THREADS" "$DURATION" \
    "LOAD_SEED_FILE=$WORK/emails" "LOAD_PASSWORD=$PASSWORD" "LOAD_DELAY_MS=$login_delay"
  # The hashing pool's occupancy, sampled from /metrics while the storm lasts.
  while true; do
    metric auth_password_hash_in_flight || true
    sleep 0.2
  done >"$WORK/storm-in-flight" 2>/dev/null &
  SAMPLER_PID=$!
  local pid failed=0
  for pid in "${WRK_PIDS[@]}"; do
    wait "$pid" || failed=1
  done
  WRK_PIDS=()
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  local max_in_flight
  max_in_flight=$(sort -n "$WORK/storm-in-flight" | tail -n 1)
  (( failed == 0 )) || { cat "$WORK"/storm-*.wrk >&2; die "wrk failed (storm)"; }
  window_end
  local rl r_me rr
  rl=$(result_of storm-login)
  r_me=$(result_of storm-me)
  rr=$(result_of storm-refresh)
  local statuses ok busy throttled refused secs
  statuses=$(field statuses "$rl")
  ok=$(status_count "$statuses" 200)
  busy=$(status_count "$statuses" 503)
  throttled=$(status_count "$statuses" 429)
  refused=$(( busy + throttled ))
  secs=$(calc "$(field duration_us "$rl") / 1000000")
  summary storm-login 'logins/s' "$rl" \
    "$(printf 'offered %.0f/s by %d connections = %.1fx the argon2 limit; accepted %.1f/s' \
      "$login_rate" "$login_conns" "$(calc "$(rps_of "$rl") / $LIMIT")" "$(calc "$ok / $secs")")"
  summary storm-me 'req/s' "$r_me" "paced at $STORM_ME_RATE/s by $me_conns connections"
  summary storm-refresh 'req/s' "$rr" "paced at $STORM_REFRESH_RATE/s by $ref_conns connections, chained"
  local me_p99 ref_p99 timeouts missing
  me_p99=$(ms p99_us "$r_me")
  ref_p99=$(ms p99_us "$rr")
  timeouts=0
  local r
  for r in "$rl" "$r_me" "$rr"; do
    timeouts=$(( timeouts + $(field client_timeouts "$r") + $(field server_timeouts "$r") ))
  done
  missing=$(field retry_after_missing "$rl")
  printf '%-15s me p99 %.2f ms, refresh p99 %.2f ms (target <= 20 ms: %s); timeouts %d (target 0: %s); excess logins refused: %d of %d (503: %d, 429: %d), Retry-After missing on %d; hashing pool at most %s in flight of %d (%d running + %d waiting): %s\n' \
    storm "$me_p99" "$ref_p99" \
    "$(verdict "$(calc "($me_p99 <= 20 && $ref_p99 <= 20) ? 1 : 0")" '==' 1)" \
    "$timeouts" "$(verdict "$timeouts" '==' 0)" "$refused" "$(field requests "$rl")" "$busy" "$throttled" "$missing" \
    "${max_in_flight:-?}" "$capacity" "$workers" "$(( capacity - workers ))" \
    "$(if (( refused > 0 && missing == 0 && ${max_in_flight:-0} <= capacity )); then echo 'refused, not queued'; else echo 'CHECK'; fi)"
}

# The trivial handler of auth_layer_target in each mode, one server at a time, the same wrk
# run against each; the layer's cost is the drop in throughput from the bare handler.
scenario_auth_layer() {
  stop_server
  local mode r rps bare_rps=""
  for mode in bare cached uncached; do
    pin "$SERVER_CPUS"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      die "port $PORT is already in use (set LOAD_PORT)"
    fi
    "${PIN[@]}" "$LAYER_BIN" "$mode" "$PORT" "$WORK/layer.access" "$USERS" >>"$WORK/layer-$mode.log" 2>&1 &
    SERVER_PID=$!
    local i ready=0
    for ((i = 0; i < 100; i++)); do
      if [[ -s "$WORK/layer.access" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        ready=1
        break
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/layer-$mode.log" >&2; die "auth_layer_target exited"; }
      sleep 0.1
    done
    (( ready == 1 )) || die "auth_layer_target ($mode) is not listening after 10 s"
    window_start
    run_wrk "layer-$mode" me.lua "$CONNECTIONS" "$THREADS" "$DURATION" \
      "LOAD_SEED_FILE=$WORK/layer.access" "LOAD_PATH=/hello"
    window_end
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    rm -f "$WORK/layer.access"
    r=$(result_of "layer-$mode")
    rps=$(rps_of "$r")
    if [[ "$mode" == bare ]]; then
      bare_rps=$rps
      summary "layer-$mode" 'req/s' "$r" "$CONNECTIONS connections; trivial handler, no layer"
    else
      local share
      [[ $(calc "($bare_rps > 0) ? 1 : 0") == 1 ]] || die "the bare handler answered nothing"
      share=$(calc "$rps * 100 / $bare_rps")
      local note
      note=$(printf '%.1f%% of the bare handler' "$share")
      if [[ "$mode" == cached ]]; then
        note+="; target >= 90%: $(verdict "$share" '>=' 90)"
      else
        note+=" (no cache: an EdDSA signature check per request)"
      fi
      summary "layer-$mode" 'req/s' "$r" "$note"
    fi
  done
}

# --- main ---------------------------------------------------------------------------------

main() {
  local -a scenarios=()
  local arg
  for arg in "${@:-all}"; do
    case "$arg" in
      all) scenarios+=(auth-layer me-memory login me-pg refresh storm) ;;
      me) scenarios+=(me-memory me-pg) ;;
      auth-layer | login | me-memory | me-pg | refresh | storm | oidc-peer) scenarios+=("$arg") ;;
      -h | --help | help) usage; exit 0 ;;
      *) usage >&2; die "unknown scenario: $arg" ;;
    esac
  done

  local tool
  for tool in cargo curl psql redis-cli awk; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
  if [[ " ${scenarios[*]} " == *" oidc-peer "* ]]; then
    for tool in node npm python3 base64; do
      command -v "$tool" >/dev/null || die "$tool is required for oidc-peer"
    done
  fi
  if ! command -v wrk >/dev/null; then
    log "wrk is missing; installing it with apt-get"
    if [[ $(id -u) == 0 ]]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
  fi
  if [[ "$PROFILE" == 1 ]]; then command -v perf >/dev/null || die "LOAD_PROFILE=1 needs perf"; fi
  if [[ -n "$SERVER_CPUS$CLIENT_CPUS" ]]; then command -v taskset >/dev/null || die "taskset is required for pinning"; fi

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/auth-load.XXXXXX")

  if [[ "$SKIP_BUILD" == 1 ]]; then
    log "LOAD_SKIP_BUILD=1: using the existing release binaries as they are"
  else
    log "building the release server (cargo reuses it when it is fresh)"
    (cd "$ROOT" && cargo build --release --quiet -p auth-server)
    if [[ " ${scenarios[*]} " == *" auth-layer "* ]]; then
      (cd "$ROOT" && cargo build --release --quiet -p auth-benches --example auth_layer_target)
    fi
    if [[ " ${scenarios[*]} " == *" oidc-peer "* ]]; then
      (cd "$ROOT" && cargo build --release --quiet -p auth-benches --example mint_codes)
    fi
  fi
  [[ -x "$BIN" ]] || die "no binary at $BIN"
  if [[ " ${scenarios[*]} " == *" auth-layer "* ]]; then
    [[ -x "$LAYER_BIN" ]] || die "no binary at $LAYER_BIN"
  fi

  redis-cli -u "$REDIS_BASE/$REDIS_DB" ping >/dev/null || die "Redis does not answer at $REDIS_BASE"
  psql "$PG_URL/postgres" -qAt -c 'select 1' >/dev/null || die "PostgreSQL does not answer at $PG_URL"
  redis-cli -u "$REDIS_BASE/$REDIS_DB" flushdb >/dev/null

  SIGNING_KEYS="[$("$BIN" keys generate --format jwt-eddsa)]"

  local pinning="no pinning: wrk and the server share every core, so the figures include wrk's CPU"
  if [[ -n "$SERVER_CPUS$CLIENT_CPUS" ]]; then
    pinning="server on CPUs ${SERVER_CPUS:-any}, wrk on CPUs ${CLIENT_CPUS:-any}"
  fi
  printf '# auth-server load harness, %s; %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
  printf '# machine: %s cores, load average %s; %s\n' "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$pinning"
  printf '# runs of %s (calibration %s), %s wrk threads, loopback only (127.0.0.1:%s); argon2 m=%s KiB t=%s p=%s\n' \
    "$DURATION" "$CALIBRATE" "$THREADS" "$PORT" "${ARGON2_MEMORY_KIB:-19456}" \
    "${ARGON2_ITERATIONS:-2}" "${ARGON2_PARALLELISM:-1}"

  # Scenarios in the order given, but each server started once: in-memory ones first.
  local s
  for s in "${scenarios[@]}"; do
    [[ "$s" == auth-layer ]] && scenario_auth_layer
  done
  for s in "${scenarios[@]}"; do
    [[ "$s" == me-memory ]] && scenario_me_memory
  done
  for s in "${scenarios[@]}"; do
    case "$s" in
      login) scenario_login ;;
      me-pg) scenario_me_pg ;;
      refresh) scenario_refresh ;;
      storm) scenario_storm ;;
      oidc-peer) scenario_oidc_peer ;;
    esac
  done
  stop_server
}

main "$@"
