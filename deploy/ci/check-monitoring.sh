#!/usr/bin/env bash
# Checks deploy/monitoring and what is generated from it: the rules (promtool check and unit
# tests), the Compose Prometheus config, the PrometheusRule (a fresh render of alerts.yml), the
# dashboard (valid JSON), that every metric the rules and the dashboard query is one a running
# auth-server exposes, and that every runbook_url lands on a heading of deploy/RUNBOOK.md.
set -euo pipefail
# shellcheck source=deploy/ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

monitoring="$repo_root/deploy/monitoring"
dashboard="$monitoring/grafana/dashboards/auth-server.json"
runbook="$repo_root/deploy/RUNBOOK.md"

work="$(mktemp -d)"
server_pid=""
schema=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ -n "$schema" ]; then drop_schema "$schema"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# promtool from the Debian prometheus package, unpacked into the tools directory: installing
# the package would also install and start a Prometheus service.
promtool_path() {
  if command -v promtool >/dev/null; then
    command -v promtool
    return
  fi
  local unpacked="$tools_dir/prometheus"
  if [ ! -x "$unpacked/usr/bin/promtool" ]; then
    (cd "$work" && { apt-get download prometheus 2>/dev/null ||
      { apt-get update -qq && apt-get download prometheus; }; }) >&2
    dpkg-deb -x "$work"/prometheus_*.deb "$unpacked"
  fi
  echo "$unpacked/usr/bin/promtool"
}

pip_tool yamllint yamllint==1.37.1 PyYAML==6.0.3
command -v curl >/dev/null || apt_tool curl curl
promtool="$(promtool_path)"
say "$("$promtool" --version | head -n 1)"

say "yamllint"
"$venv/bin/yamllint" --strict -d '{extends: default, rules: {line-length: disable, document-start: disable}}' \
  "$monitoring/alerts.yml" "$monitoring/alerts.test.yml" "$monitoring/prometheus/prometheus.yml" \
  "$monitoring/grafana/provisioning" "$repo_root/deploy/k8s/base/prometheusrule.yaml"

say "promtool check rules"
"$promtool" check rules "$monitoring/alerts.yml"
say "promtool test rules"
(cd "$monitoring" && "$promtool" test rules alerts.test.yml)

say "promtool check config"
# The config names the rule file where the Compose service mounts it; rebuild that layout here.
mkdir -p "$work/etc/prometheus"
cp "$monitoring/alerts.yml" "$work/etc/prometheus/alerts.yml"
grep -q '^  - /etc/prometheus/alerts.yml$' "$monitoring/prometheus/prometheus.yml" ||
  fail "prometheus.yml no longer loads /etc/prometheus/alerts.yml"
sed "s|^  - /etc/prometheus/alerts.yml$|  - $work/etc/prometheus/alerts.yml|" \
  "$monitoring/prometheus/prometheus.yml" >"$work/prometheus.yml"
"$promtool" check config "$work/prometheus.yml"

say "PrometheusRule is a fresh render of alerts.yml"
"$venv/bin/python" "$monitoring/render-prometheusrule.py" --check

say "auth-server /metrics"
# AUTH_SERVER_BIN: a binary already built (validate.sh passes the release one); otherwise a
# debug build of the sources.
auth_server="${AUTH_SERVER_BIN:-}"
if [ -z "$auth_server" ]; then
  (cd "$repo_root" && cargo build --quiet -p auth-server)
  auth_server="$cargo_target/debug/auth-server"
fi
[ -x "$auth_server" ] || fail "no auth-server binary at $auth_server"
# On PostgreSQL (a schema of its own on the test database), so the families only a database
# fills (its pool, the readiness gauge) are exposed too.
schema="auth_monitoring_$$"
database_url="$(create_schema "$schema")"
DATABASE_URL="$database_url" PORT=0 LOG_FORMAT=json LOG_LEVEL=info "$auth_server" serve \
  >"$work/server.log" 2>&1 &
server_pid=$!
address=""
for _ in $(seq 1 100); do
  address="$(grep -o '"addr":"[^"]*"' "$work/server.log" | head -n 1 | cut -d '"' -f 4 || true)"
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "auth-server exited"; }
  sleep 0.1
done
[ -n "$address" ] || fail "auth-server did not log its address"
base="http://127.0.0.1:${address##*:}"
# A request or two first: a labelled family shows in /metrics once it has a series.
curl -fsS "$base/health/readiness" >/dev/null
curl -sS -o /dev/null -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"nobody@example.com","password":"not the password at all"}'
curl -fsS "$base/metrics" >"$work/metrics.txt"

say "metric names, dashboard JSON and runbook anchors"
"$venv/bin/python" - "$work/metrics.txt" "$repo_root/auth-tower/src/metrics/mod.rs" \
  "$monitoring/alerts.yml" "$dashboard" "$runbook" <<'PY'
import json, re, sys
import yaml

exposition, source, rules_path, dashboard_path, runbook_path = sys.argv[1:]
problems = []

# Sample names from the TYPE lines (a family shows them before its first sample exists).
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
exposed, outcomes = {"up"}, set()
for line in open(exposition):
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        exposed.update(name + s for s in SUFFIXES.get(kind, [""]))
    outcomes.update(re.findall(r'outcome="([^"]*)"', line))

# Families this in-memory server never fills (auth_service_health needs PostgreSQL or Redis):
# their kind from the field registered under that name.
code = open(source).read()
for name, field in re.findall(r'registry\.register\(\s*"(\w+)",\s*"[^"]*",\s*(\w+)\.clone\(\)', code):
    declared = re.search(rf"^\s*{field}: ([^\n]+),$", code, re.M)
    kind = next((k for k in SUFFIXES if declared and k in declared.group(1).lower()), None)
    if kind is None:
        problems.append(f"{name}: cannot tell the kind of field {field} in {source}")
    elif not any(name + s in exposed for s in SUFFIXES[kind]):
        exposed.update(name + s for s in SUFFIXES[kind])
        print(f"-- {name}: no series here, taken from the source as a {kind}")

rules = yaml.safe_load(open(rules_path))["groups"]
recorded = {r["record"] for g in rules for r in g["rules"] if "record" in r}
exprs = [(r.get("alert") or r["record"], r["expr"]) for g in rules for r in g["rules"]]

try:
    dashboard = json.load(open(dashboard_path))
except ValueError as error:
    sys.exit(f"FAILED: {dashboard_path} is not JSON: {error}")
for panel in dashboard["panels"]:
    exprs += [(f"panel {panel['title']!r}", t["expr"]) for t in panel.get("targets", [])]
for var in dashboard["templating"]["list"]:
    if var["type"] == "query":
        # label_values(SELECTOR, LABEL): the selector is the query.
        selector = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", var["definition"])
        exprs.append((f"variable {var['name']}", selector))

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}

def metric_names(expr):
    expr = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        if not match.group(2) and match.group(1).lower() not in KEYWORDS:
            yield match.group(1)

for where, expr in exprs:
    names = set(metric_names(expr))
    if not names:
        problems.append(f"{where}: no metric found in {expr!r}")
    for name in sorted(names - exposed - recorded):
        problems.append(f"{where}: {name} is not exposed by auth-server nor recorded")
    for value in re.findall(r'outcome=~?"([^"]*)"', expr):
        for outcome in value.split("|"):
            if outcome not in outcomes:
                problems.append(f"{where}: outcome {outcome!r} never occurs in /metrics")

# GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered.
anchors, seen = set(), {}
for line in open(runbook_path):
    heading = re.match(r"#{1,6} (.+)", line)
    if heading:
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
for group in rules:
    for rule in group["rules"]:
        if "alert" not in rule:
            continue
        for key in ("summary", "description", "runbook_url"):
            if key not in rule.get("annotations", {}):
                problems.append(f"{rule['alert']}: no {key} annotation")
        if "severity" not in rule.get("labels", {}):
            problems.append(f"{rule['alert']}: no severity label")
        url = rule.get("annotations", {}).get("runbook_url", "")
        if not url.startswith("https://github.com/auth-rs/auth/blob/main/deploy/RUNBOOK.md#"):
            problems.append(f"{rule['alert']}: runbook_url {url!r} is not a RUNBOOK.md anchor")
        elif url.split("#", 1)[1] not in anchors:
            problems.append(f"{rule['alert']}: RUNBOOK.md has no heading for #{url.split('#', 1)[1]}")

for problem in problems:
    print(f"FAILED: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
say "monitoring: all checks passed"
