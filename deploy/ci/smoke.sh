#!/usr/bin/env bash
# Deploy smoke test: the release binary against a local PostgreSQL and Redis, run the way the
# image runs it (facts read from deploy/docker/Dockerfile: its ENV, USER, ENTRYPOINT/CMD and
# HEALTHCHECK; an empty read-only working directory; no other environment), through migrate,
# serve, readiness, a register/verify/login/me round trip with the verification mail read from
# a real relay (aiosmtpd requiring STARTTLS and AUTH, its certificate from a CA of the test's
# own, trusted through SMTP_CA_FILE), and a clean SIGTERM.
#   SMOKE_POSTGRES_URL  server to create a scratch database on (postgres://postgres@127.0.0.1:5432)
#   SMOKE_REDIS_URL     Redis, with a logical database of its own (redis://127.0.0.1:6379/9):
#                       the server has no setting for its key prefix (always auth:), so the
#                       test keeps to that database and deletes auth:* there when it ends
#   AUTH_SERVER_BIN     the binary (target/release/auth-server, built by check-container.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_url="${SMOKE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
redis_url="${SMOKE_REDIS_URL:-redis://127.0.0.1:6379/9}"
bin="${AUTH_SERVER_BIN:-$cargo_target/release/auth-server}"
dockerfile="$repo_root/deploy/docker/Dockerfile"
drain_deadline=30 # SHUTDOWN_TIMEOUT (25 s) plus a margin
redact() { case "$1" in *@*) printf '%s//***@%s' "${1%%//*}" "${1#*@}" ;; *) printf '%s' "$1" ;; esac; }

apt_tool jq jq
apt_tool psql postgresql-client
apt_tool redis-cli redis-tools
[ -x "$bin" ] || fail "no binary at $bin: run deploy/ci/check-container.sh first"
stale="$(cd "$repo_root" && find Cargo.toml Cargo.lock auth-core auth-tower auth-server -newer "$bin" -type f -print -quit)"
[ -z "$stale" ] || fail "$bin is older than $stale: rebuild it (deploy/ci/check-container.sh)"

# --- What the image fixes, from the Dockerfile's last stage (continuation lines joined).
final_stage="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | awk '/^FROM /{s=""} {s=s $0 "\n"} END{printf "%s", s}')"
instruction() { printf '%s\n' "$final_stage" | sed -n "s/^$1[[:space:]]\{1,\}//p"; }
exec_form() { instruction "$1" | sed 's/^.*CMD[[:space:]]*//' | jq -r '.[]'; }
image_bin="$(instruction COPY | awk '$1 == "--from=builder" {print $3}')"
read -ra image_env <<<"$(instruction ENV)"
image_user="$(instruction USER)"
mapfile -t entrypoint < <(exec_form ENTRYPOINT)
mapfile -t command < <(exec_form CMD)
mapfile -t probe < <(exec_form HEALTHCHECK)
if [ -z "$image_bin" ] || [ "${#image_env[@]}" = 0 ] || [ "${#command[@]}" = 0 ] ||
  [ "${entrypoint[0]:-}" != "$image_bin" ] || [ "${probe[0]:-}" != "$image_bin" ]; then
  fail "cannot read COPY/ENV/ENTRYPOINT/CMD/HEALTHCHECK from $dockerfile"
fi
# The distroless base sets these two; the image adds the ENV above.
base_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)

# --- Scratch state, removed on any exit.
work="$(mktemp -d)"
run_dir="$work/app"
db="auth_smoke_$$_$RANDOM"
server_pid="" db_created="" smtp_pid=""
cleanup() {
  [ -z "$server_pid" ] || { kill -KILL "$server_pid" && wait "$server_pid"; } 2>/dev/null || true
  [ -z "$smtp_pid" ] || { kill -KILL "$smtp_pid" && wait "$smtp_pid"; } 2>/dev/null || true
  [ -z "$db_created" ] || psql "$pg_url/postgres" -XqAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
    echo "could not drop database $db" >&2
  redis-cli --no-auth-warning -u "$redis_url" --scan --pattern 'auth:*' | xargs -r redis-cli --no-auth-warning -u "$redis_url" DEL >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP # so that the EXIT trap runs then too

mkdir "$run_dir"
install -m 555 "$bin" "$run_dir/auth-server"
chmod 555 "$run_dir"
chmod 711 "$work"
drop=() runs_as="$(id -u)"
if [ "$(id -u)" = 0 ]; then
  uid="${image_user%%:*}" gid="${image_user#*:}"
  if command -v setpriv >/dev/null; then
    drop=(setpriv "--reuid=$uid" "--regid=$gid" --clear-groups) runs_as="$uid"
  elif command -v runuser >/dev/null && getent passwd "$uid" >/dev/null; then
    drop=(runuser -u "$(getent passwd "$uid" | cut -d: -f1)" --) runs_as="$uid"
  else
    say "SKIPPED dropping to uid $uid: neither setpriv nor a runuser account for it; running as root"
  fi
fi

# as_image ARG...: execs an image command line (ENTRYPOINT, HEALTHCHECK) from the empty
# read-only directory, with only the image's and the deployment's environment, as the image's
# user. It replaces the calling shell: call it in a subshell or in the background.
deploy_env=()
as_image() {
  local program="$1"
  shift
  [ "$program" = "$image_bin" ] && program=./auth-server
  cd "$run_dir" && exec "${drop[@]}" env -i "${base_env[@]}" "${image_env[@]}" "${deploy_env[@]}" "$program" "$@"
}

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
db_created=1
psql "$pg_url/postgres" -XqAtc "CREATE DATABASE $db" >/dev/null || fail "cannot create a database at $(redact "$pg_url")"
[ "$(redis-cli --no-auth-warning -u "$redis_url" ping)" = PONG ] || fail "Redis does not answer at $(redact "$redis_url")"

# The manifests' settings (the Kubernetes ConfigMap source), then this machine's addresses,
# then secrets generated the way the deployment docs say.
config_env="$repo_root/deploy/k8s/base/config.env"
if [ -f "$config_env" ]; then
  mapfile -t deploy_env < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$config_env")
else
  say "no $config_env: running on the server's defaults"
  deploy_env=(AUTH_ISSUER="$base")
fi
deploy_env+=(PORT="$port" DATABASE_URL="$pg_url/$db" REDIS_URL="$redis_url")
signing_key="$(as_image "$image_bin" keys generate --format jwt-eddsa)" || fail "keys generate failed"
deploy_env+=(AUTH_SIGNING_KEYS="[$signing_key]" MFA_ENCRYPTION_KEYS="k1:$(openssl rand -hex 32)")

say "a mail relay requiring STARTTLS and AUTH, its certificate from a CA of this test's own"
smtp_python=python3
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  pip_tool aiosmtpd aiosmtpd==1.4.6
  smtp_python="$venv/bin/python"
fi
mail_dir="$work/mail"
mkdir -m 700 "$mail_dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=smoke test CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign -keyout "$mail_dir/ca.key" -out "$work/smtp-ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$mail_dir/relay.key" -out "$mail_dir/relay.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$mail_dir/relay.ext"
openssl x509 -req -days 1 -in "$mail_dir/relay.csr" -CA "$work/smtp-ca.pem" -CAkey "$mail_dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -extfile "$mail_dir/relay.ext" -out "$mail_dir/relay.pem" 2>/dev/null
chmod 644 "$work/smtp-ca.pem"
smtp_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
smtp_password="$(openssl rand -hex 16)"
"$smtp_python" "$repo_root/auth-core/src/testing/secure_smtp.py" "$smtp_port" "$mail_dir/maildir" \
  "$mail_dir/relay.pem" "$mail_dir/relay.key" mailer "$smtp_password" >"$work/smtp.log" 2>&1 &
smtp_pid=$!
deadline=$((SECONDS + 15))
until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$smtp_port" 2>/dev/null; do
  kill -0 "$smtp_pid" 2>/dev/null || { cat "$work/smtp.log" >&2; fail "the mail relay exited"; }
  [ "$SECONDS" -lt "$deadline" ] || fail "the mail relay did not listen within 15 s"
  sleep 0.2
done
deploy_env+=(SMTP_URL="smtp://mailer:$smtp_password@127.0.0.1:$smtp_port?tls=required"
  SMTP_CA_FILE="$work/smtp-ca.pem")

say "migrate ($db)"
(as_image "$image_bin" migrate) >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail "migrate failed"; }

say "serve on :$port from an empty read-only directory, ${drop[*]:-as the current user}"
as_image "${entrypoint[@]}" "${command[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health/readiness")" = 200 ]; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "the server exited during start-up"; }
  [ "$SECONDS" -lt "$deadline" ] || { cat "$work/server.log" >&2; fail "readiness not 200 within 30 s"; }
  sleep 0.2
done
(as_image "${probe[@]}") || fail "the image's HEALTHCHECK (${probe[*]:1}) failed against a running server"
(as_image "$image_bin" healthcheck --path /health/readiness) || fail "healthcheck --path /health/readiness failed"

# request METHOD PATH EXPECTED_STATUS [BODY] [TOKEN]: prints the answer's body.
request() {
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" "$base$2")
  [ -n "${4:-}" ] && args+=(-H 'content-type: application/json' --data "$4")
  [ -n "${5:-}" ] && args+=(-H "authorization: Bearer $5")
  local status
  status="$(curl "${args[@]}")"
  [ "$status" = "$3" ] || fail "$1 $2 answered $status, expected $3: $(cat "$work/body")"
  cat "$work/body"
}
email="smoke-$RANDOM@example.com"
credentials="$(jq -nc --arg e "$email" '{email: $e, password: "correct horse battery staple"}')"
request POST /v1/auth/register 202 "$credentials" >/dev/null
# The verification link's token, from the mail the relay spooled (at most 20 s).
verify_token="" deadline=$((SECONDS + 20))
until [ -n "$verify_token" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { cat "$work/server.log" >&2; fail "no verification mail reached the relay within 20 s"; }
  sleep 0.2
  verify_token="$(python3 - "$mail_dir/maildir" "$email" <<'PY'
import mailbox, re, sys
for message in mailbox.Maildir(sys.argv[1], create=False):
    if message["To"] == sys.argv[2]:
        text = message.get_payload(decode=True) if not message.is_multipart() else \
            message.get_payload(0).get_payload(decode=True)
        found = re.search(rb"\?token=([A-Za-z0-9_-]{43})", text)
        print(found.group(1).decode() if found else "")
PY
)" || true
done
request POST /v1/auth/login 403 "$credentials" >/dev/null
request POST /v1/auth/email/verify 200 "$(jq -nc --arg t "$verify_token" '{token: $t}')" >/dev/null
token="$(request POST /v1/auth/login 200 "$credentials" | jq -r '.access_token // empty')"
[ -n "$token" ] || fail "login answered 200 without an access_token"
me="$(request GET /v1/auth/me 200 "" "$token")"
[ "$(jq -r .email <<<"$me")" = "$email" ] || fail "/v1/auth/me named another account: $me"

say "SIGTERM"
kill -TERM "$server_pid"
deadline=$((SECONDS + drain_deadline))
while kill -0 "$server_pid" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "still running ${drain_deadline} s after SIGTERM"
  sleep 0.2
done
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" = 0 ] || { cat "$work/server.log" >&2; fail "the server exited $status after SIGTERM"; }
if (as_image "${probe[@]}") 2>/dev/null; then fail "the HEALTHCHECK passed with the server down"; fi
if grep -q 'DEVELOPMENT MODE' "$work/server.log"; then fail "the server ran in development mode"; fi

say "smoke test passed in ${SECONDS} s (uid $runs_as, port $port, database $db, $(redact "$redis_url")):"
say "  migrate 0; readiness 200; HEALTHCHECK 0 up, 1 down; register 202; verification mail through"
say "  STARTTLS and AUTH; login 403 until verified; verify 200; login 200 with a token; me 200;"
say "  SIGTERM exit 0"
