#!/usr/bin/env bash
# Usage: restore-drill.sh [--help]
#
# Proves that backups of DATABASE_URL restore: takes a backup with backup.sh, restores it with
# restore.sh into a new scratch database on the same server (dropped again on exit), then
# compares the row count of every table (the application's and the migrations table) between
# the source and the restored copy. Prints a summary; exits non-zero on any difference.
#
# The source is counted inside the very snapshot that pg_dump dumps, so writes made while the
# drill runs do not show up as differences.
#
# Environment:
#   DATABASE_URL   the database to drill (a postgres:// URL; never printed). Its role needs
#                  CREATEDB, to create the scratch database.
#   BACKUP_ENCRYPTION_RECIPIENT, BACKUP_DECRYPTION_IDENTITY
#                  passed on to backup.sh and restore.sh, to drill encrypted backups too
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
fi
[ $# -eq 0 ] || { echo "restore-drill.sh: unexpected argument (see --help)" >&2; exit 2; }
: "${DATABASE_URL:?restore-drill.sh: DATABASE_URL is not set}"
[[ "$DATABASE_URL" =~ ^postgres(ql)?:// ]] ||
  { echo "restore-drill.sh: DATABASE_URL must be a postgres:// URL" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/scripts/pgpass.sh
. "$here/pgpass.sh"
hide_password "$DATABASE_URL"
DATABASE_URL="$PGPASS_URL"
work="$(mktemp -d "${TMPDIR:-/tmp}/restore-drill.XXXXXX")"
scratch="auth_restore_drill_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"

# The same URL with another database name (the path), keeping credentials and parameters.
with_database() {
  local url="$1" query=""
  if [[ "$url" == *\?* ]]; then query="?${url#*\?}"; url="${url%%\?*}"; fi
  local rest="${url#*://}"
  printf '%s://%s/%s%s' "${url%%://*}" "${rest%%/*}" "$2" "$query"
}
scratch_url="$(with_database "$DATABASE_URL" "$scratch")"

sql() { psql "$1" -X --no-password -v ON_ERROR_STOP=1 -qAt "${@:2}"; }

# "schema.table|rows" for every ordinary table outside the system schemas, sorted.
count_rows="
SELECT format('%I.%I', schemaname, tablename) || '|' ||
       (xpath('/row/n/text()', query_to_xml(
          format('SELECT count(*) AS n FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text
FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1;"

cleanup() {
  local status=$?
  # Ends the source session; an open transaction is rolled back.
  if [ -n "${snap_pid:-}" ]; then
    kill "$snap_pid" 2>/dev/null || true
    wait "$snap_pid" 2>/dev/null || true
  fi
  if [ -n "${created:-}" ]; then
    sql "$DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" ||
      echo "restore-drill.sh: could not drop the scratch database $scratch" >&2
  fi
  rm -rf "$work"
  rm -f -- "${PGPASS_CREATED:-/nonexistent}"
  exit "$status"
}
trap cleanup EXIT

# A session that holds a REPEATABLE READ transaction open: its snapshot is exported to
# pg_dump, and the source rows are counted inside it.
coproc snap { exec psql "$DATABASE_URL" -X --no-password -v ON_ERROR_STOP=1 -qAt; }
# shellcheck disable=SC2154 # snap_PID is set by coproc
snap_pid=$snap_PID
exec {snap_in}>&"${snap[1]}" {snap_out}<&"${snap[0]}"
ask() { # sends SQL to the session; prints its output up to the end marker
  printf '%s\n\\echo __end__\n' "$1" >&"$snap_in"
  local line
  while IFS= read -r line <&"$snap_out"; do
    [ "$line" = "__end__" ] && return 0
    printf '%s\n' "$line"
  done
  echo "restore-drill.sh: the source session ended unexpectedly" >&2
  return 1
}
snapshot="$(ask "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot();")"
ask "$count_rows" >"$work/source.counts"
grep -q '\.auth_schema_migrations|' "$work/source.counts" ||
  { echo "restore-drill.sh: no auth_schema_migrations table: not the server's database?" >&2; exit 1; }

backup="$(BACKUP_DIR="$work" BACKUP_RETENTION_DAYS=0 PG_DUMP_SNAPSHOT="$snapshot" "$here/backup.sh")"
ask "COMMIT;" >/dev/null

sql "$DATABASE_URL" -c "CREATE DATABASE \"$scratch\""
created=1
TARGET_DATABASE_URL="$scratch_url" "$here/restore.sh" "$backup"
sql "$scratch_url" -c "$count_rows" >"$work/restored.counts"

# One row per table from either side; a table missing on one side is a difference too.
awk -F'|' '
  NR == FNR { source[$1] = $2; seen[$1] = 1; next }
  { restored[$1] = $2; seen[$1] = 1 }
  END {
    printf "%-44s %12s %12s  %s\n", "table", "source", "restored", "result"
    n = asorti(seen, tables)
    for (i = 1; i <= n; i++) {
      t = tables[i]
      s = (t in source) ? source[t] : "-"
      r = (t in restored) ? restored[t] : "-"
      ok = (t in source) && (t in restored) && s == r
      if (!ok) bad++
      printf "%-44s %12s %12s  %s\n", t, s, r, ok ? "ok" : "DIFFERENT"
    }
    printf "%d table(s), %d difference(s)\n", n, bad
    exit bad > 0
  }' "$work/source.counts" "$work/restored.counts" ||
  { echo "restore-drill.sh: FAILED: the restored copy differs from the source" >&2; exit 1; }
echo "restore-drill.sh: the backup restores with every row"
