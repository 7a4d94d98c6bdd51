"""The properties of the rendered Kubernetes manifests that the deployment relies on.

Schema validation says a manifest is well-formed; this says it is still safe: hardened pods,
zero-downtime rollouts, probes on the server's real paths, /metrics and the probes' details on
the admin port (ADMIN_ADDR) that only Prometheus reaches, a memory limit that covers the
password hashing pool, selectors that select, and the custom resources' required fields.

Usage: k8s_policy.py NAME=RENDERED.yaml ...   (NAME "prod" gets the production rules too)
       k8s_policy.py --refusals RENDERED.yaml     (the rules refuse known-bad edits of it)
"""

import copy

import re
import sys

import yaml

KINDS = {
    "Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment", "Job", "Ingress",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
    "ServiceMonitor", "PrometheusRule",
}
PROBES = {
    "startupProbe": "/health/startup",
    "livenessProbe": "/health/liveness",
    "readinessProbe": "/health/readiness",
}
# The server's resident memory without hashes in flight: 11 MiB measured with PostgreSQL and
# Redis pools (deploy/k8s/README.md, "Resources"), with room to spare. The memory limit must
# hold it plus one Argon2 block per concurrent hash.
BASELINE_MIB = 32
UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}


def mib(quantity):
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", str(quantity))
    return int(match[1]) * UNITS[match[2]] if match else 0


def check(name, docs):
    problems = []

    def need(condition, message):
        if not condition:
            problems.append(f"{name}: {message}")

    by_kind = {}
    for doc in docs:
        kind = doc.get("kind")
        need(kind in KINDS, f"unexpected kind {kind} (not covered by the checks)")
        by_kind.setdefault(kind, []).append(doc)
    one = lambda kind: (by_kind.get(kind) or [None])[0]  # noqa: E731

    # Secrets come from outside the kustomization, never from git.
    need("Secret" not in by_kind, "renders a Secret")
    namespace = one("Namespace")
    need(namespace is not None, "no Namespace")
    if namespace:
        ns = namespace["metadata"]["name"]
        for doc in docs:
            if doc["kind"] != "Namespace":
                need(doc["metadata"].get("namespace") == ns, f"{doc['kind']} outside {ns}")

    config = one("ConfigMap") or {"metadata": {"name": ""}, "data": {}}
    env = config.get("data", {})
    deployment, job = one("Deployment"), one("Job")
    need(deployment is not None, "no Deployment")
    if deployment is None:
        return problems

    for workload in filter(None, [deployment, job]):
        what = f"{workload['kind']} {workload['metadata']['name']}"
        pod = workload["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        need(psc.get("runAsNonRoot") is True, f"{what}: pod runAsNonRoot")
        need(psc.get("runAsUser") == 65532, f"{what}: pod runAsUser 65532")
        need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{what}: seccomp")
        need(pod.get("automountServiceAccountToken") is False, f"{what}: service account token")
        for container in pod["containers"]:
            csc = container.get("securityContext", {})
            cwhat = f"{what} container {container['name']}"
            need(csc.get("readOnlyRootFilesystem") is True, f"{cwhat}: readOnlyRootFilesystem")
            need(csc.get("allowPrivilegeEscalation") is False, f"{cwhat}: allowPrivilegeEscalation")
            need(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{cwhat}: runAsNonRoot")
            need("ALL" in csc.get("capabilities", {}).get("drop", []), f"{cwhat}: drop ALL")
            for bound in ("requests", "limits"):
                res = container.get("resources", {}).get(bound, {})
                need("cpu" in res and "memory" in res, f"{cwhat}: cpu and memory {bound}")

    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    server = pod["containers"][0]
    pod_labels = spec["template"]["metadata"]["labels"]
    rolling = spec.get("strategy", {}).get("rollingUpdate", {})
    need(spec.get("strategy", {}).get("type") == "RollingUpdate", "Deployment: RollingUpdate")
    need(rolling.get("maxUnavailable") == 0, "Deployment: maxUnavailable 0")
    drain = int(env.get("SHUTDOWN_TIMEOUT", 25))
    pause = server.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    need("exec" not in server.get("lifecycle", {}).get("preStop", {}),
         "Deployment: preStop exec (the image has no shell)")
    need(pod.get("terminationGracePeriodSeconds", 30) > drain + pause,
         f"Deployment: terminationGracePeriodSeconds must exceed {drain} s drain + {pause} s pause")
    ports = {p["name"]: p["containerPort"] for p in server.get("ports", [])}
    need(ports.get("http") == int(env.get("PORT", 8080)), "Deployment: port http is not PORT")
    # /metrics and the probes' details (store hosts, their errors) stay off the public port.
    admin_addr = env.get("ADMIN_ADDR", "")
    admin_host, _, admin_port = admin_addr.rpartition(":")
    need(admin_port.isdigit() and admin_port != str(ports.get("http")),
         "ConfigMap: ADMIN_ADDR must give /metrics a port of its own")
    # The kubelet and Prometheus reach the pod's address: the listener must be on every interface.
    need(admin_host in ("", "[::]", "0.0.0.0"),
         f"ConfigMap: ADMIN_ADDR {admin_addr!r} must listen on every interface (:PORT, [::]:PORT)")
    need(admin_port.isdigit() and ports.get("admin") == int(admin_port),
         "Deployment: port admin is not ADMIN_ADDR's")
    for probe, path in PROBES.items():
        get = server.get(probe, {}).get("httpGet", {})
        need(get.get("path") == path and get.get("port") in ("admin", ports.get("admin")),
             f"Deployment: {probe} must GET {path} on port admin (its details answer there)")
    annotations = spec["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") == "true":
        need(annotations.get("prometheus.io/port") == str(ports.get("admin")),
             "Deployment: the prometheus.io/port annotation must be the admin port")
    refs = {k: v["name"] for e in server.get("envFrom", []) for k, v in e.items()}
    need(refs.get("configMapRef") == config["metadata"]["name"], "Deployment: envFrom ConfigMap")
    need(refs.get("secretRef") == "auth-server", "Deployment: envFrom Secret auth-server")
    optional = any(e.get("secretRef", {}).get("optional") for e in server.get("envFrom", []))
    need(not optional or env.get("AUTH_ENV") == "development",
         "Deployment: the Secret may be optional in development only")
    tunables = {e["name"]: e.get("value", "") for e in server.get("env", [])}
    need("glibc.malloc.mmap_threshold=" in tunables.get("GLIBC_TUNABLES", ""),
         "Deployment: GLIBC_TUNABLES must fix the mmap threshold (or freed hashes stay resident)")
    limit = mib(server.get("resources", {}).get("limits", {}).get("memory"))
    hashes = int(env.get("PASSWORD_HASH_CONCURRENCY", 0))
    need(hashes > 0, "ConfigMap: PASSWORD_HASH_CONCURRENCY must be set (default: node cores)")
    need(limit >= BASELINE_MIB + hashes * int(env.get("ARGON2_MEMORY_KIB", 19456)) / 1024,
         f"Deployment: memory limit {limit} MiB below {BASELINE_MIB} MiB + {hashes} hashes")

    def selects(selector, labels):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    job_labels = job["spec"]["template"]["metadata"]["labels"] if job else {}
    service = one("Service")
    need(service and selects(service["spec"]["selector"], pod_labels), "Service: selects no pod")
    need(not (service and job and selects(service["spec"]["selector"], job_labels)),
         "Service: selects the migration pod")
    service_ports = {p["name"]: p for p in service["spec"]["ports"]} if service else {}
    need(service_ports.get("http", {}).get("targetPort") in ("http", ports.get("http")),
         "Service: port http must target the container's http port")
    need(service_ports.get("admin", {}).get("targetPort") in ("admin", ports.get("admin")),
         "Service: port admin must target the container's admin port")
    pdb = one("PodDisruptionBudget")
    need(pdb and selects(pdb["spec"]["selector"]["matchLabels"], pod_labels), "PDB: selects no pod")
    policy = one("NetworkPolicy")
    if policy:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        for labels in filter(None, [pod_labels, job_labels]):
            need(selects(selector, labels), "NetworkPolicy: does not cover every pod")
        need(set(policy["spec"].get("policyTypes", [])) == {"Ingress", "Egress"},
             "NetworkPolicy: must restrict ingress and egress")
        # Which namespaces each container port is open to.
        numbers = {"http": ports.get("http"), "admin": ports.get("admin")}
        open_to = {}
        for rule in policy["spec"].get("ingress", []):
            sources = [peer.get("namespaceSelector", {}).get("matchLabels", {})
                       .get("kubernetes.io/metadata.name", "(not a namespace)")
                       for peer in rule.get("from", [{}])]
            for port in rule.get("ports") or [{"port": None}]:
                number = numbers.get(port["port"], port["port"])
                open_to.setdefault(number, set()).update(sources)
        need(set(open_to) <= {numbers["http"], numbers["admin"]} and None not in open_to,
             f"NetworkPolicy: ingress to ports beyond http and admin: {sorted(map(str, open_to))}")
        need(open_to.get(numbers["http"]) == {"ingress-nginx"},
             "NetworkPolicy: port http must be open to the ingress-nginx namespace alone")
        need(open_to.get(numbers["admin"]) == {"monitoring"},
             "NetworkPolicy: port admin must be open to the monitoring namespace alone")
    else:
        need(False, "no NetworkPolicy")
    hpa = one("HorizontalPodAutoscaler")
    if hpa:
        need(hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "HPA: target")
        need(hpa["spec"].get("minReplicas", 1) <= spec.get("replicas", 1), "HPA: min > replicas")
        # At the HPA maximum, plus the pod a rollout adds, every pod may hold a full pool and
        # one more connection (a purge, or its lock attempt, takes one out of the pool), and
        # the migration Job one.
        budget = hpa["metadata"].get("annotations", {}).get("auth-server/postgres-connection-budget")
        pool = int(env.get("DATABASE_POOL_SIZE", 16))
        pods = hpa["spec"]["maxReplicas"] + int(rolling.get("maxSurge", 1))
        most = pods * (pool + 1) + (1 if job else 0)
        need(budget is not None and budget.isdigit(),
             "HPA: annotation auth-server/postgres-connection-budget (the database's connections)")
        need(budget is None or not budget.isdigit() or most <= int(budget),
             f"HPA: {pods} pods (maxReplicas + maxSurge) x (DATABASE_POOL_SIZE {pool} + 1) "
             f"+ the Job = {most} connections exceed the budget of {budget}")
    for ingress in by_kind.get("Ingress", []):
        need(ingress["spec"].get("tls"), "Ingress: no TLS")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                need(not path["path"].startswith(("/metrics", "/health")),
                     f"Ingress: exposes {path['path']}")
                backend = path["backend"]["service"]
                need(backend["name"] == service["metadata"]["name"]
                     and backend["port"].get("name") == "http",
                     "Ingress: backend must be the Service's port http (never admin)")
    if job:
        container = job["spec"]["template"]["spec"]["containers"][0]
        need(container.get("args") == ["migrate"], "Job: must run `migrate`")
        need(container["image"] == server["image"], "Job: image differs from the Deployment's")
        need("backoffLimit" in job["spec"] and "ttlSecondsAfterFinished" in job["spec"],
             "Job: backoffLimit and ttlSecondsAfterFinished")

    for monitor in by_kind.get("ServiceMonitor", []):
        need(monitor.get("apiVersion") == "monitoring.coreos.com/v1", "ServiceMonitor: apiVersion")
        need(monitor["metadata"].get("name"), "ServiceMonitor: metadata.name")
        labels = service["metadata"].get("labels", {}) if service else {}
        need(selects(monitor.get("spec", {}).get("selector", {}).get("matchLabels"), labels),
             "ServiceMonitor: selects no Service")
        endpoints = monitor.get("spec", {}).get("endpoints") or [{}]
        for endpoint in endpoints:
            need(endpoint.get("port") == "admin" and endpoint.get("path") == "/metrics",
                 "ServiceMonitor: endpoints need port admin and path /metrics")
    for rule_set in by_kind.get("PrometheusRule", []):
        need(rule_set.get("apiVersion") == "monitoring.coreos.com/v1", "PrometheusRule: apiVersion")
        need(rule_set["metadata"].get("name"), "PrometheusRule: metadata.name")
        groups = rule_set.get("spec", {}).get("groups") or []
        need(groups, "PrometheusRule: no groups")
        for group in groups:
            need(group.get("name") and group.get("rules"), "PrometheusRule: group name and rules")
            for rule in group.get("rules") or []:
                named = rule.get("alert", rule.get("record"))
                need(named and isinstance(rule.get("expr"), str),
                     f"PrometheusRule: rule {named} needs alert (or record) and expr")

    if name == "prod":
        digest = re.compile(r"@sha256:[0-9a-f]{64}$")
        need(digest.search(server["image"]), "image not pinned by digest")
        need(env.get("AUTH_ENV") == "production", "AUTH_ENV must be production")
        need(spec.get("replicas", 1) >= 3, "fewer than 3 replicas")
        need(job is not None, "no migration Job")
        need(hpa and hpa["spec"]["minReplicas"] >= 3 and hpa["spec"].get("behavior", {})
             .get("scaleDown", {}).get("stabilizationWindowSeconds", 0) >= 300,
             "HPA needs min 3 and a 300 s scale-down window")
        need("ServiceMonitor" in by_kind and "PrometheusRule" in by_kind,
             "no ServiceMonitor or PrometheusRule")
    return problems


def check_secret_example(docs):
    """The example Secret holds every key the server needs, and placeholders only."""
    keys = {"DATABASE_URL", "REDIS_URL", "AUTH_SIGNING_KEYS", "MFA_ENCRYPTION_KEYS", "SMTP_URL"}
    data = docs[0].get("stringData", {}) if len(docs) == 1 else {}
    problems = [f"secret example: {key} missing" for key in sorted(keys - set(data))]
    problems += [f"secret example: {key} is not a CHANGE_ME placeholder"
                 for key, value in data.items() if "CHANGE_ME" not in value]
    return problems


def of_kind(docs, kind):
    return next(doc for doc in docs if doc["kind"] == kind)


def container(docs):
    return of_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def open_admin_to_ingress(docs):
    rules = of_kind(docs, "NetworkPolicy")["spec"]["ingress"]
    rules[0]["ports"].append({"protocol": "TCP", "port": 9091})


def ingress_path(docs):
    return of_kind(docs, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]


# Edits that must each be refused, with what the refusal must say: a rule that stops refusing
# them has broken, and another rule refusing in its place does not hide it.
BAD_EDITS = {
    "readiness probe on the public port": (
        "readinessProbe must GET",
        lambda docs: container(docs)["readinessProbe"]["httpGet"].update(port="http")),
    "ServiceMonitor scraping the public port": (
        "ServiceMonitor: endpoints need port admin",
        lambda docs: of_kind(docs, "ServiceMonitor")["spec"]["endpoints"][0].update(port="http")),
    "no ADMIN_ADDR": (
        "ADMIN_ADDR must give /metrics a port of its own",
        lambda docs: of_kind(docs, "ConfigMap")["data"].pop("ADMIN_ADDR")),
    "ADMIN_ADDR on loopback only": (
        "must listen on every interface",
        lambda docs: of_kind(docs, "ConfigMap")["data"].update(ADMIN_ADDR="127.0.0.1:9091")),
    "admin port open to the ingress controller": (
        "port admin must be open to the monitoring namespace alone", open_admin_to_ingress),
    "scrape annotation on the public port": (
        "prometheus.io/port annotation must be the admin port",
        lambda docs: of_kind(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        .update({"prometheus.io/port": "8080"})),
    "more pods than the database has connections for": (
        "connections exceed the budget",
        lambda docs: of_kind(docs, "HorizontalPodAutoscaler")["spec"].update(maxReplicas=40)),
    "Ingress exposing /metrics": (
        "Ingress: exposes /metrics", lambda docs: ingress_path(docs).update(path="/metrics")),
    "Ingress routed to the admin port": (
        "never admin",
        lambda docs: ingress_path(docs)["backend"]["service"]["port"].update(name="admin")),
}


def refusals(docs):
    """Each of BAD_EDITS applied to docs (which pass) must be refused."""
    problems = [f"refusals: the unedited manifests fail: {p}" for p in check("prod", docs)]
    for what, (says, edit) in BAD_EDITS.items():
        edited = copy.deepcopy(docs)
        edit(edited)
        found = [problem for problem in check("prod", edited) if says in problem]
        print(f"refusals: {what}: {found[0] if found else 'ACCEPTED'}")
        if not found:
            problems.append(f"refusals: {what} was not refused with {says!r}")
    return problems


def main(arguments):
    problems = []
    if arguments[:1] == ["--refusals"]:
        with open(arguments[1], encoding="utf-8") as rendered:
            problems = refusals([doc for doc in yaml.safe_load_all(rendered) if doc])
        for problem in problems:
            print(f"policy: {problem}", file=sys.stderr)
        return 1 if problems else 0
    for argument in arguments:
        name, _, path = argument.partition("=")
        with open(path, encoding="utf-8") as rendered:
            docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
        problems += check_secret_example(docs) if name == "secret-example" else check(name, docs)
        print(f"{name}: {len(docs)} documents checked")
    for problem in problems:
        print(f"policy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
