#!/usr/bin/env python3
"""Writes the PrometheusRule for the Prometheus Operator from alerts.yml.

    render-prometheusrule.py            print the manifest
    render-prometheusrule.py --write    update deploy/k8s/base/prometheusrule.yaml
    render-prometheusrule.py --check    exit 1 if that file is not a fresh render
"""

import difflib
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "alerts.yml"
TARGET = HERE.parent / "k8s" / "base" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/monitoring/alerts.yml by deploy/monitoring/render-prometheusrule.py:
# edit alerts.yml, then run `deploy/monitoring/render-prometheusrule.py --write`.
"""


class Dumper(yaml.SafeDumper):
    # Indent lists under their key, as alerts.yml and the other manifests do.
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def render() -> str:
    groups = yaml.safe_load(SOURCE.read_text())["groups"]
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "auth-server",
            "namespace": "auth",
            "labels": {
                "app.kubernetes.io/name": "auth-server",
                # kube-prometheus-stack's default ruleSelector matches its release label.
                "release": "kube-prometheus-stack",
            },
        },
        "spec": {"groups": groups},
    }
    body = yaml.dump(manifest, Dumper=Dumper, sort_keys=False, width=4096, allow_unicode=True)
    return HEADER + body


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--write"]:
        TARGET.write_text(text)
    elif argv == ["--check"]:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(TARGET.relative_to(HERE.parent.parent)),
                    "fresh render",
                )
            )
            print(f"{TARGET.name} is stale: run {pathlib.Path(__file__).name} --write", file=sys.stderr)
            return 1
    elif argv:
        print(__doc__, file=sys.stderr)
        return 2
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
