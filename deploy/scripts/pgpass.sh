# shellcheck shell=bash
# shellcheck disable=SC2034  # PGPASS_URL and PGPASS_CREATED are for the scripts that source this.
# Sourced by the backup scripts, not run. Keeps database passwords off command lines, where
# every user of the machine can read them (ps, /proc/<pid>/cmdline): the password of a
# postgres:// URL moves to a private password file (PGPASSFILE, mode 600) and the URL goes on
# without it. libpq, and so psql, pg_dump and pg_restore, read the file. A script started by
# another that did this already appends to the same file.

# Sets PGPASS_URL to "$1" without its password, which goes to the password file for its user
# on any host, port and database. A URL without a password (or a key-value string) is kept as
# it is.
hide_password() {
  local re='^(postgres(ql)?://)([^:@/?]*):([^@]*)@(.*)$'
  PGPASS_URL="$1"
  [[ "$1" =~ $re ]] || return 0
  local scheme="${BASH_REMATCH[1]}" user="${BASH_REMATCH[3]}" password="${BASH_REMATCH[4]}"
  local rest="${BASH_REMATCH[5]}"
  # Percent-decoded, then escaped as the password file wants (backslash and colon).
  password="$(printf '%b' "${password//%/\\x}")"
  password="${password//\\/\\\\}"
  password="${password//:/\\:}"
  local decoded_user
  decoded_user="$(printf '%b' "${user//%/\\x}")"
  decoded_user="${decoded_user//\\/\\\\}"
  decoded_user="${decoded_user//:/\\:}"
  if [ -z "${PGPASSFILE:-}" ] || [ ! -f "$PGPASSFILE" ]; then
    PGPASSFILE="$(umask 077 && mktemp "${TMPDIR:-/tmp}/pgpass.XXXXXX")"
    PGPASS_CREATED="$PGPASSFILE"
    export PGPASSFILE
  fi
  printf '*:*:*:%s:%s\n' "$decoded_user" "$password" >>"$PGPASSFILE"
  PGPASS_URL="$scheme$user@$rest"
}
