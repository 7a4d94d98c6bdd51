#!/usr/bin/env bash
# Usage: backup.sh [--help]
#
# Takes a logical backup of the server's PostgreSQL database (pg_dump, custom format,
# compressed), writes a SHA-256 sidecar next to it and prunes old backups.
#
# Environment:
#   DATABASE_URL                 the database to back up (required; never printed, and its
#                                password never on a command line: see pgpass.sh)
#   BACKUP_DIR                   where backups are written (default: ./backups)
#   BACKUP_RETENTION_DAYS        delete our backups older than this many days (default: 14;
#                                0 keeps them all)
#   BACKUP_ENCRYPTION_RECIPIENT  if set, encrypt with age to this recipient (an "age1..."
#                                public key) or to every recipient listed in this file
#   PG_DUMP_SNAPSHOT             if set, dump in this exported snapshot (used by restore-drill.sh)
#
# Output: BACKUP_DIR/auth-backup-YYYYMMDDTHHMMSSZ.dump[.age] and the same name + .sha256;
# the backup's path is the only line printed on standard output. Exits non-zero on any failure
# and leaves no partial file behind.
#
# The private age identity never needs to be on the machine that takes backups; restore.sh
# takes it from BACKUP_DECRYPTION_IDENTITY. A passphrase is not supported: age reads one only
# from a terminal, which a scheduled job does not have.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
fi
[ $# -eq 0 ] || { echo "backup.sh: unexpected argument (see --help)" >&2; exit 2; }

: "${DATABASE_URL:?backup.sh: DATABASE_URL is not set}"
# shellcheck source=deploy/scripts/pgpass.sh
. "$(dirname "${BASH_SOURCE[0]}")/pgpass.sh"
hide_password "$DATABASE_URL"
DATABASE_URL="$PGPASS_URL"
backup_dir="${BACKUP_DIR:-./backups}"
retention_days="${BACKUP_RETENTION_DAYS:-14}"
recipient="${BACKUP_ENCRYPTION_RECIPIENT:-}"
[[ "$retention_days" =~ ^[0-9]+$ ]] || { echo "backup.sh: BACKUP_RETENTION_DAYS must be a whole number" >&2; exit 2; }

umask 077
mkdir -p "$backup_dir"

name="auth-backup-$(date -u +%Y%m%dT%H%M%SZ).dump"
[ -z "$recipient" ] || name="$name.age"
final="$backup_dir/$name"
partial="$final.partial"
[ ! -e "$final" ] || { echo "backup.sh: $final already exists" >&2; exit 1; }
trap 'rm -f -- "$partial" "$final.sha256.partial" "${PGPASS_CREATED:-/nonexistent}"' EXIT

# zstd where pg_dump has it (16+); gzip otherwise. pg_restore reads either.
pg_major="$(pg_dump --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')"
if [ "$pg_major" -ge 16 ]; then compress="zstd:9"; else compress="9"; fi

dump_args=(--format=custom "--compress=$compress" --no-password)
[ -z "${PG_DUMP_SNAPSHOT:-}" ] || dump_args+=("--snapshot=$PG_DUMP_SNAPSHOT")

if [ -z "$recipient" ]; then
  pg_dump "${dump_args[@]}" --file="$partial" --dbname="$DATABASE_URL"
else
  command -v age >/dev/null || { echo "backup.sh: age is needed for BACKUP_ENCRYPTION_RECIPIENT" >&2; exit 1; }
  if [ -f "$recipient" ]; then age_to=(--recipients-file "$recipient"); else age_to=(--recipient "$recipient"); fi
  # pipefail makes a failing pg_dump fail the pipeline, not only a failing age.
  pg_dump "${dump_args[@]}" --dbname="$DATABASE_URL" | age --encrypt "${age_to[@]}" --output "$partial"
fi
[ -s "$partial" ] || { echo "backup.sh: the dump is empty" >&2; exit 1; }

(cd "$backup_dir" && sha256sum "$(basename "$partial")" | sed 's/\.partial$//' >"$name.sha256.partial")
mv "$partial" "$final"
mv "$final.sha256.partial" "$final.sha256"

# Retention: only files named like ours, so nothing else in BACKUP_DIR is ever deleted.
if [ "$retention_days" -gt 0 ]; then
  find "$backup_dir" -maxdepth 1 -type f -mmin "+$((retention_days * 24 * 60))" \
    -regextype posix-extended \
    -regex '.*/auth-backup-[0-9]{8}T[0-9]{6}Z\.dump(\.age)?(\.sha256)?' \
    -print -delete | sed 's/^/backup.sh: removed expired /' >&2
fi

echo "$final"
