#!/usr/bin/env bash
# Checks the shell scripts: shellcheck on every tracked *.sh and .ci/run, then the backup,
# restore and restore-drill scripts for real against PostgreSQL (AUTH_CHECK_POSTGRES_URL, a
# server URL without a database, trust or password in the URL; default the local server):
# a scratch database migrated and filled by auth-server itself, a drill with a password in the
# URL that must reach no command line, a plain and an encrypted drill, and a drill that must
# fail because a row goes missing in the restored copy.
# AUTH_SERVER_BIN names the auth-server binary (default target/debug/auth-server, built if
# missing).
set -euo pipefail
# shellcheck source=deploy/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

apt_tool shellcheck shellcheck
apt_tool psql postgresql-client
apt_tool age age

# Every script the repository holds (and any new one not yet added), wherever it lives.
mapfile -t scripts < <(
  { git ls-files '*.sh'; git ls-files --others --exclude-standard '*.sh'; } 2>/dev/null | sort -u
)
[ "${#scripts[@]}" -gt 0 ] || mapfile -t scripts < <(find . -path ./target -prune -o -type f -name '*.sh' -print | sort)
scripts+=(.ci/run)
say "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts"
# A finding fails the check at the end, after the drills have run too.
shellcheck_failed=""
shellcheck --external-sources "${scripts[@]}" || shellcheck_failed=1

server_url="${AUTH_CHECK_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
psql "$server_url/postgres" -XtAqc 'SELECT 1' >/dev/null || fail "PostgreSQL does not answer at $server_url"

auth_server="${AUTH_SERVER_BIN:-$cargo_target/debug/auth-server}"
if [ ! -x "$auth_server" ]; then
  say "building auth-server"
  cargo build --quiet -p auth-server
fi
[ -x "$auth_server" ] || fail "no auth-server binary at $auth_server"

work="$(mktemp -d "${TMPDIR:-/tmp}/check-scripts.XXXXXX")"
source_db="auth_check_scripts_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
  psql "$server_url/postgres" -XtAqc "DROP DATABASE IF EXISTS \"$source_db\" WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

say "a scratch database, migrated and with accounts, by auth-server"
psql "$server_url/postgres" -XtAqc "CREATE DATABASE \"$source_db\""
export DATABASE_URL="$server_url/$source_db"
"$auth_server" migrate >/dev/null
for n in 1 2 3; do
  AUTH_BOOTSTRAP_PASSWORD="restore drill $n, $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    "$auth_server" user create --email "drill$n@example.com" >/dev/null
done
users="$(psql "$DATABASE_URL" -XtAqc 'SELECT count(*) FROM auth_users')"
[ "$users" = 3 ] || fail "expected 3 accounts in the scratch database, found $users"

say "backup.sh"
backup="$(BACKUP_DIR="$work/backups" deploy/scripts/backup.sh)"
if [ ! -s "$backup" ] || [ ! -s "$backup.sha256" ]; then fail "backup.sh wrote no backup and checksum"; fi
(cd "$work/backups" && sha256sum --check --quiet "$(basename "$backup").sha256") || fail "checksum"

say "the backup scripts keep the database password off every command line"
# A password in the URL (the local server trusts and ignores it), with characters the password
# file must escape; pg_dump, psql and pg_restore on the PATH write down what they were given.
secret="drill:pass@word-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
encoded="${secret//:/%3A}"
encoded="${encoded//@/%40}"
with_password="${DATABASE_URL/:\/\/postgres@/://postgres:$encoded@}"
[ "$with_password" != "$DATABASE_URL" ] || fail "could not put a password in the scratch URL"
mkdir "$work/spy"
for tool in pg_dump psql pg_restore; do
  cat >"$work/spy/$tool" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$work/spy/argv"
[ -z "\${PGPASSFILE:-}" ] || cat "\$PGPASSFILE" >>"$work/spy/pgpass"
exec "$(command -v "$tool")" "\$@"
EOF
  chmod +x "$work/spy/$tool"
done
DATABASE_URL="$with_password" PATH="$work/spy:$PATH" deploy/scripts/restore-drill.sh >/dev/null ||
  fail "the restore drill with a password in the URL"
grep -q -- "--format=custom" "$work/spy/argv" || fail "pg_dump did not run through the spy"
if grep -qF -e "$secret" -e "$encoded" "$work/spy/argv"; then
  fail "the password reached a command line"
fi
grep -qF "*:*:*:postgres:${secret//:/\\:}" "$work/spy/pgpass" ||
  fail "the password file did not hold the password"

say "restore-drill.sh"
deploy/scripts/restore-drill.sh || fail "the restore drill"

say "restore-drill.sh, encrypted with age"
age-keygen -o "$work/identity" 2>/dev/null
BACKUP_ENCRYPTION_RECIPIENT="$(age-keygen -y "$work/identity")" \
  BACKUP_DECRYPTION_IDENTITY="$work/identity" \
  deploy/scripts/restore-drill.sh | tail -n 1 || fail "the encrypted restore drill"

# The drill must notice a difference: a pg_restore that loses one row after restoring.
say "restore-drill.sh fails when a row is missing"
mkdir "$work/lossy"
cat >"$work/lossy/pg_restore" <<EOF
#!/usr/bin/env bash
set -euo pipefail
"$(command -v pg_restore)" "\$@"
psql "\$TARGET_DATABASE_URL" -XtAqc 'DELETE FROM auth_schema_migrations WHERE version = 1'
EOF
chmod +x "$work/lossy/pg_restore"
if PATH="$work/lossy:$PATH" deploy/scripts/restore-drill.sh >"$work/lossy.out" 2>&1; then
  cat "$work/lossy.out" >&2
  fail "the drill passed although the restored copy lost a row"
fi
grep -Eq 'auth_schema_migrations +[0-9]+ +[0-9]+ +DIFFERENT' "$work/lossy.out" ||
  { cat "$work/lossy.out" >&2; fail "the drill failed, but not on the missing row"; }

[ -z "$shellcheck_failed" ] || fail "shellcheck (findings above)"
say "scripts pass"
