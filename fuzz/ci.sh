#!/usr/bin/env bash
# Builds every fuzz target and runs each one briefly on a copy of its seed corpus, so the
# targets cannot rot. Any crash, timeout or out-of-memory fails the script; libFuzzer leaves
# the input that failed in artifacts/<target>/.
#
#   FUZZ_SECONDS  how long each target runs (default 20)
#
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  # A debug build installs faster; it only drives cargo.
  cargo install cargo-fuzz --locked --debug --version "$CARGO_FUZZ_VERSION"
fi

cargo fuzz build --debug-assertions

corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
for target in $(cargo fuzz list); do
  echo "== $target (${seconds} s)"
  mkdir -p "$corpus/$target"
  cp seeds/"$target"/* "$corpus/$target/"
  # -timeout: one input running this long is a hang; -rss_limit_mb: libFuzzer's default.
  if ! cargo fuzz run --debug-assertions "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$corpus/$target.log" 2>&1; then
    tail -n 80 "$corpus/$target.log" >&2
    echo "fuzz target $target failed; the input is in $(pwd)/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$corpus/$target.log"
done
echo "all fuzz targets ran ${seconds} s each without a crash"
