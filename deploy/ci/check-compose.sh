#!/usr/bin/env bash
# deploy/compose/compose.yaml: interpolated with .env.example the way Compose does it, then
# validated against the Compose specification schema, then checked for what the deployment
# relies on (start order, healthchecks, hardening, required secrets, mounted files that exist).
# `docker compose config` runs too where the Compose plugin is installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

compose_dir="$repo_root/deploy/compose"
compose="$compose_dir/compose.yaml"
env_example="$compose_dir/.env.example"

# check-jsonschema ships the Compose specification schema (vendor.compose-spec).
pip_tool check-jsonschema check-jsonschema==0.39.0
say "$("$venv/bin/check-jsonschema" --version)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
"$venv/bin/python" - "$compose" "$env_example" "$work/compose.json" <<'PY' || status=$?
import json, os, re, sys
from ruamel.yaml import YAML  # installed with check-jsonschema

compose_path, env_path, out_path = sys.argv[1:]
base = os.path.dirname(compose_path)
problems = []

def read_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env

# Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
# ${VAR?error}, ${VAR:+replacement}, ${VAR+replacement}.
PATTERN = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*))")

def interpolate(value, env, missing, unset=None):
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, missing, unset) for v in value]
    if not isinstance(value, str):
        return value
    def substitute(m):
        escaped, name, op, arg, bare = m.groups()
        if escaped:
            return "$"
        name = name or bare
        current = env.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op and op.endswith("?") and unset_or_empty:
            missing.add(name)
            return ""
        if op and op.endswith("-") and unset_or_empty:
            return arg
        if op and op.endswith("+"):
            return "" if unset_or_empty else arg
        if current is None and unset is not None:
            unset.add(name)
        return current or ""
    return PATTERN.sub(substitute, value)

raw = YAML(typ="safe").load(open(compose_path))  # resolves the anchors and merge keys
env = read_env(env_path)
missing, unset = set(), set()
model = interpolate(raw, env, missing, unset)
if unset:
    problems.append(f".env.example does not set {sorted(unset)}, used without a default")
if missing:
    problems.append(f".env.example leaves required variables empty: {sorted(missing)}")
# Without a .env, every secret whose example is a placeholder must stop Compose.
required = set()
interpolate(raw, {}, required)
for name, value in env.items():
    if value.startswith("change-me") and name not in required:
        problems.append(f"{name} is a secret (change-me in .env.example) but compose.yaml does not require it with :?")

services = model.get("services", {})
def need(ok, message):
    if not ok:
        problems.append(message)

for name, service in services.items():
    image = service.get("image", "")
    need("build" in service or re.search(r":[\w][\w.-]*$", image) and not image.endswith(":latest"),
         f"{name}: image {image!r} is not pinned to a tag")
    check = service.get("healthcheck", {})
    need(check.get("test") or (check.get("disable") and service.get("restart") == "no"),
         f"{name}: no healthcheck (only one-shot jobs, restart \"no\", may disable it)")
    build = service.get("build")
    if build:
        context = os.path.join(base, build["context"])
        need(os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))),
             f"{name}: build dockerfile {build.get('dockerfile')} not found in {build['context']}")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        target = volume.split(":")[1] if isinstance(volume, str) else volume.get("target", "")
        if source.startswith((".", "/")):
            path = os.path.normpath(os.path.join(base, source))
            need(os.path.exists(path), f"{name}: mounts {source}, which does not exist")
            if target == "/var/lib/grafana/dashboards" and os.path.isdir(path):
                need(os.path.isfile(os.path.join(path, "auth-server.json")),
                     f"{name}: {source} holds no auth-server.json dashboard")

def conditions(name):
    return {k: v.get("condition") for k, v in services.get(name, {}).get("depends_on", {}).items()}

need(conditions("migrate") == {"postgres": "service_healthy"},
     f"migrate must wait for postgres service_healthy, has {conditions('migrate')}")
need(conditions("server") == {"migrate": "service_completed_successfully",
                              "postgres": "service_healthy", "redis": "service_healthy"},
     f"server must wait for migrate (completed successfully), postgres and redis (healthy), has {conditions('server')}")
migrate = services.get("migrate", {})
need(migrate.get("command") == ["migrate"] and migrate.get("restart") == "no",
     "migrate must run `migrate` once (restart \"no\")")
server = services.get("server", {})
need(server.get("healthcheck", {}).get("test") ==
     ["CMD", "/usr/local/bin/auth-server", "healthcheck", "--path", "/health/readiness"],
     "server: the healthcheck must be auth-server healthcheck --path /health/readiness")
for job in ("migrate", "server"):
    s = services.get(job, {})
    need(s.get("read_only") is True, f"{job}: read_only must be true")
    need("ALL" in s.get("cap_drop", []), f"{job}: cap_drop must include ALL")
    need(any(o.startswith("no-new-privileges") and not o.endswith("false") for o in s.get("security_opt", [])),
         f"{job}: security_opt must set no-new-privileges")
    need(str(s.get("user", "")).split(":")[0] == "65532", f"{job}: must run as user 65532")
environment = server.get("environment", {})
need(environment.get("AUTH_ENV") == "production", "server: AUTH_ENV must be production")
need(f":{env.get('REDIS_PASSWORD')}@" in environment.get("REDIS_URL", ""),
     "server: REDIS_URL must carry REDIS_PASSWORD")
# A store is reached over TLS, or in plaintext by leave (ALLOW_PLAINTEXT_STORE_HOSTS) and only
# when it is a service of this file on an internal network it shares with the server.
from urllib.parse import urlsplit, parse_qs
allowed = [h.strip().lower() for h in environment.get("ALLOW_PLAINTEXT_STORE_HOSTS", "").split(",") if h.strip()]
internal = {n for n, v in (model.get("networks") or {}).items() if (v or {}).get("internal") is True}
for variable, tls in (("DATABASE_URL", lambda u: parse_qs(u.query).get("sslmode", [""])[-1] in
                       ("require", "verify-ca", "verify-full")),
                      ("REDIS_URL", lambda u: u.scheme.startswith("rediss"))):
    url = urlsplit(environment.get(variable, ""))
    if tls(url):
        continue
    host = url.hostname or ""  # urlsplit lower-cases it, as the server compares
    need(host in allowed, f"server: {variable} reaches {host} without TLS and ALLOW_PLAINTEXT_STORE_HOSTS does not list it")
    shared = set(services.get(host, {}).get("networks", [])) & set(server.get("networks", [])) & internal
    need(bool(shared), f"server: {variable} reaches {host} without TLS, so it must be a service on an internal network shared with the server")
for host in allowed:
    need(any(urlsplit(environment.get(v, "")).hostname == host for v in ("DATABASE_URL", "REDIS_URL")),
         f"server: ALLOW_PLAINTEXT_STORE_HOSTS lists {host}, which no store URL names")

# /metrics and the probes' details on the admin port, which is not published; the monitoring
# profile's Prometheus scrapes it over the Compose network.
admin_port = environment.get("ADMIN_ADDR", "").rpartition(":")[2]
need(admin_port.isdigit(), "server: ADMIN_ADDR must give /metrics a port of its own")
published = [str(p).rpartition(":")[2] for p in server.get("ports", [])]
need(admin_port not in published, f"server: the admin port {admin_port} must not be published")
scrape = YAML(typ="safe").load(open(os.path.join(base, "../monitoring/prometheus/prometheus.yml")))
targets = [t for job in scrape.get("scrape_configs", []) if job.get("job_name") == "auth-server"
           for group in job.get("static_configs", []) for t in group.get("targets", [])]
need(targets == [f"server:{admin_port}"],
     f"prometheus.yml: the auth-server job must scrape server:{admin_port} (ADMIN_ADDR), has {targets}")

json.dump(model, open(out_path, "w"), indent=1)
for problem in problems:
    print(f"  - {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
[ -s "$work/compose.json" ] || fail "compose.yaml could not be read"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$work/compose.json" ||
  fail "compose.yaml does not follow the Compose specification"
[ "$status" = 0 ] || fail "compose.yaml: the problems listed above"
say "interpolated with .env.example; start order, healthchecks, hardening, secrets and mounts as required"

if docker compose version >/dev/null 2>&1; then
  docker compose -f "$compose" --env-file "$env_example" --profile monitoring config --quiet ||
    fail "docker compose config refused compose.yaml"
  say "docker compose config: valid"
else
  say "docker compose is not installed: skipped its own validation"
fi
say "compose checks passed"
