# shellcheck shell=bash
# Shared by the deploy checks: where the validators live and how they are installed.
# Sourced, never run. Tools go into one Python virtualenv under cargo's target directory
# (target/, or CARGO_TARGET_DIR when set), so a fresh machine installs them once and a
# developer's machine keeps them between runs.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Where cargo puts what it builds: CARGO_TARGET_DIR (.ci/run keeps it outside the clone) or
# the workspace's target/.
cargo_target="${CARGO_TARGET_DIR:-$repo_root/target}"
tools_dir="${AUTH_CI_TOOLS:-$cargo_target/ci-tools}"
venv="$tools_dir/venv"

say() { printf -- '-- %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# pip_tool COMMAND SPEC...: makes COMMAND available from the tools virtualenv, installing SPEC
# (pip requirement specifiers, pinned) when the command is missing there.
pip_tool() {
  local command="$1"
  shift
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$tools_dir"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  if [ ! -x "$venv/bin/$command" ]; then
    "$venv/bin/python" -m pip install --quiet "$@"
  fi
  [ -x "$venv/bin/$command" ] || fail "$command did not install from $*"
}

# create_schema NAME: creates schema NAME on AUTH_TEST_DATABASE_URL and prints a URL whose
# connections work in it. drop_schema NAME removes it (quietly; for EXIT traps).
create_schema() {
  [ -n "${AUTH_TEST_DATABASE_URL:-}" ] ||
    fail "AUTH_TEST_DATABASE_URL is not set: this check needs PostgreSQL (see README.md)"
  psql "$AUTH_TEST_DATABASE_URL" -XqAc "CREATE SCHEMA $1" >/dev/null ||
    fail "cannot create schema $1 on AUTH_TEST_DATABASE_URL"
  local separator='?'
  case "$AUTH_TEST_DATABASE_URL" in *\?*) separator='&' ;; esac
  printf '%s%soptions=-c%%20search_path%%3D%s\n' "$AUTH_TEST_DATABASE_URL" "$separator" "$1"
}
drop_schema() {
  [ -n "${AUTH_TEST_DATABASE_URL:-}" ] || return 0
  psql "$AUTH_TEST_DATABASE_URL" -XqAc \
    "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null || true
}

# apt_tool COMMAND PACKAGE: installs a Debian package when COMMAND is not on PATH.
apt_tool() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null && return 0
  # Root on a CI container, sudo on a hosted runner or a developer's machine.
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  if [ -z "${apt_updated:-}" ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  command -v "$command" >/dev/null || fail "$command did not install from the $package package"
}
