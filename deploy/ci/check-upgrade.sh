#!/usr/bin/env bash
# A zero-downtime upgrade, run: the release pinned in deploy/ci/n-minus-1.commit (older than the
# newest migration) and this one, side by side on one PostgreSQL schema that this one has
# migrated, both in production mode (so the old one's start-up checks of the schema run). The
# old binary does not know the newest migration; a token issued by either verifies on both; a
# refresh begun on one continues on the other, both ways.
#
# Time: the pinned release is built once (dev profile) into its own target directory beside
# cargo's, then reused while the pin stays; the run itself takes seconds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pin="$(grep -Ev '^[[:space:]]*(#|$)' "$repo_root/deploy/ci/n-minus-1.commit" | head -n 1)"
git -C "$repo_root" cat-file -e "$pin^{commit}" 2>/dev/null ||
  fail "the pinned commit $pin is not in this clone's history (a shallow clone?)"

# The database first: without one, nothing is built for nothing.
schema="auth_upgrade_$$"
work="$(mktemp -d)"
cleanup() {
  drop_schema "$schema"
  rm -rf "$work"
}
trap cleanup EXIT
DATABASE_URL="$(create_schema "$schema")"
export DATABASE_URL

old_dir="$cargo_target/n-minus-1"
old_bin="$old_dir/target/debug/auth-server"
if [ ! -x "$old_bin" ] || [ "$(cat "$old_dir/built" 2>/dev/null)" != "$pin" ]; then
  say "building the pinned release ${pin:0:12} (once per pin)"
  started=$SECONDS
  rm -rf "$old_dir/src"
  mkdir -p "$old_dir/src"
  git -C "$repo_root" archive "$pin" | tar -x -C "$old_dir/src"
  (cd "$old_dir/src" && CARGO_TARGET_DIR="$old_dir/target" cargo build --locked --quiet -p auth-server)
  echo "$pin" >"$old_dir/built"
  say "built in $((SECONDS - started)) s"
fi
new_bin="${AUTH_SERVER_DEBUG_BIN:-$cargo_target/debug/auth-server}"
(cd "$repo_root" && cargo build --quiet -p auth-server)
[ -x "$new_bin" ] || fail "no auth-server binary at $new_bin"

say "migrate with this release, then the pinned one's view of the schema"
"$new_bin" migrate
"$old_bin" migrate --status | tee "$work/old-status.txt"
newest="$("$new_bin" migrate --status | tail -n 1 | awk '{ print $1, $2 }')"
grep -q "^$newest .*applied by a newer release$" "$work/old-status.txt" ||
  fail "the pinned release knows the newest migration ($newest): pin an older commit"

say "both releases side by side"
python3 - "$old_bin" "$new_bin" <<'PY' || fail "the releases do not work side by side"
import json, os, secrets, subprocess, sys, threading, urllib.request, urllib.error

old_bin, new_bin = sys.argv[1:]
keys = json.loads(subprocess.check_output([new_bin, "keys", "generate"]))
env = dict(os.environ, PORT="0", LOG_FORMAT="json", AUTH_ENV="production",
           AUTH_ISSUER="https://auth.example.com", AUTH_SIGNING_KEYS=json.dumps([keys]),
           MFA_ENCRYPTION_KEYS="k1:" + secrets.token_hex(32),
           # No mail goes out in this check (verification off); production needs the settings.
           SMTP_URL="smtps://mail.invalid:465", MAIL_FROM="auth@example.com",
           APP_URL="https://auth.example.com", EMAIL_VERIFICATION="off")
processes = []

def start(binary):
    process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE, text=True)
    processes.append(process)
    for line in process.stdout:
        entry = json.loads(line)
        if entry.get("message") == "listening":
            # Keep reading its log, so a full pipe never stops it.
            threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
            return "http://127.0.0.1:" + entry["addr"].rsplit(":", 1)[1]
    sys.exit(f"{binary} exited before listening")

def call(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body else None)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")

def expect(what, got, status):
    print(f"  {what}: {got[0]}")
    if got[0] != status:
        sys.exit(f"{what}: expected {status}, got {got}")
    return got[1]

try:
    servers = {"old": start(old_bin), "new": start(new_bin)}
    for first, second in (("old", "new"), ("new", "old")):
        base, other = servers[first], servers[second]
        user = {"email": f"{first}@example.com", "password": "correct horse battery staple"}
        expect(f"register on {first}", call(base, "POST", "/v1/auth/register", user), 201)
        tokens = expect(f"login on {first}", call(base, "POST", "/v1/auth/login", user), 200)
        me = expect(f"{first}'s token on {second}",
                    call(other, "GET", "/v1/auth/me", token=tokens["access_token"]), 200)
        assert me["email"] == user["email"], me
        turned = expect(f"refresh {first}'s session on {second}",
                        call(other, "POST", "/v1/auth/refresh",
                             {"refresh_token": tokens["refresh_token"]}), 200)
        back = expect(f"and again on {first}",
                      call(base, "POST", "/v1/auth/refresh",
                           {"refresh_token": turned["refresh_token"]}), 200)
        expect(f"the last access token on {second}",
               call(other, "GET", "/v1/auth/me", token=back["access_token"]), 200)
finally:
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
PY
say "upgrade check passed: ${pin:0:12} and this release share one schema"
