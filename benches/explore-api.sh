#!/usr/bin/env bash
# An exploratory run of the OpenAPI contract check: the newest schemathesis, a new seed each
# time and ten times CI's examples, against the server as .ci/contract.sh starts it. Not part of
# CI (its results change from run to run); what it finds becomes a fix and, where it can, a test.
#   EXPLORE_EXAMPLES   examples per operation and phase (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS_VERSION=latest SCHEMATHESIS_SEED=random \
  SCHEMATHESIS_EXAMPLES="${EXPLORE_EXAMPLES:-1000}" exec bash .ci/contract.sh
