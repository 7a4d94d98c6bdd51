#!/usr/bin/env bash
# Every deploy check, in the order that lets later ones reuse what earlier ones built: the
# container check builds the release binary (the Dockerfile's command) and smoke-tests it;
# the monitoring and scripts checks then run that same binary.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export AUTH_SERVER_BIN="${AUTH_SERVER_BIN:-$cargo_target/release/auth-server}"

checks=(check-workflows check-k8s check-compose check-container check-monitoring check-scripts)
if [ "${1:-}" = "--quick" ]; then
  # Everything that needs no server binary: for a quick look while editing manifests.
  checks=(check-workflows check-k8s check-compose)
fi
for check in "${checks[@]}"; do
  printf '\n== deploy: %s\n' "$check"
  started=$SECONDS
  bash "$repo_root/deploy/ci/$check.sh"
  say "$check passed in $((SECONDS - started)) s"
done
