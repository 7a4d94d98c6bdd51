#!/usr/bin/env bash
# Usage: restore.sh [--force] BACKUP_FILE
#        restore.sh --help
#
# Restores a backup made by backup.sh into TARGET_DATABASE_URL: checks the SHA-256 sidecar
# (BACKUP_FILE.sha256, required), decrypts .age backups, then runs pg_restore in a single
# transaction, so a failed restore leaves the target as it was.
#
# Refuses a target that already holds tables, views or sequences unless --force is given;
# with --force, the objects in the backup are dropped and recreated (--clean --if-exists).
#
# Environment:
#   TARGET_DATABASE_URL         the database to restore into (required; never printed)
#   BACKUP_DECRYPTION_IDENTITY  age identity file, for .age backups
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

force=0
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --force) force=1 ;;
    -*) echo "restore.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$file" ] || { echo "restore.sh: one backup file only" >&2; exit 2; }; file="$1" ;;
  esac
  shift
done
[ -n "$file" ] || { usage >&2; exit 2; }
: "${TARGET_DATABASE_URL:?restore.sh: TARGET_DATABASE_URL is not set}"
# shellcheck source=deploy/scripts/pgpass.sh
. "$(dirname "${BASH_SOURCE[0]}")/pgpass.sh"
hide_password "$TARGET_DATABASE_URL"
TARGET_DATABASE_URL="$PGPASS_URL"
trap 'rm -f -- "${PGPASS_CREATED:-/nonexistent}"' EXIT
[ -f "$file" ] || { echo "restore.sh: no such file: $file" >&2; exit 1; }
[ -f "$file.sha256" ] || { echo "restore.sh: no checksum file $file.sha256" >&2; exit 1; }

(cd "$(dirname "$file")" && sha256sum --check --quiet --strict "$(basename "$file").sha256") ||
  { echo "restore.sh: checksum mismatch for $file" >&2; exit 1; }

psql_target() { psql "$TARGET_DATABASE_URL" -X --no-password -v ON_ERROR_STOP=1 -tAq "$@"; }
objects="$(psql_target -c "
  SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'")"
if [ "$objects" -gt 0 ] && [ "$force" -eq 0 ]; then
  echo "restore.sh: the target database is not empty ($objects relations); pass --force to overwrite" >&2
  exit 1
fi

dump="$file"
if [[ "$file" == *.age ]]; then
  : "${BACKUP_DECRYPTION_IDENTITY:?restore.sh: BACKUP_DECRYPTION_IDENTITY is needed for $file}"
  umask 077
  dump="$(mktemp "${TMPDIR:-/tmp}/restore.XXXXXX")"
  trap 'rm -f -- "$dump" "${PGPASS_CREATED:-/nonexistent}"' EXIT
  age --decrypt --identity "$BACKUP_DECRYPTION_IDENTITY" --output "$dump" "$file"
fi

pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction \
  --no-password --dbname="$TARGET_DATABASE_URL" "$dump"
echo "restore.sh: restored $file" >&2
