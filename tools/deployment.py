"""Deployment files generated from the code, so that they cannot drift from it:

    python -m tools.deployment write   # the files below
    python -m tools.deployment check   # exit 1 if a committed one is stale

- `deploy/local/Procfile` and `docker-compose.yml`: the processes of `tools/registry.py`, the
  latter on its template `deploy/compose/docker-compose.in.yml`.

- `services.yaml`: one Deployment per service process (probes on `/health`, Prometheus
  annotations on `/metrics`), configuration from the ConfigMap `meldespiegel-config` and the
  Secret `meldespiegel-secrets`, the PKI from the Secret `meldespiegel-pki`.
- `kafka-topics.yaml`: a Strimzi `KafkaTopic` per catalogue topic and per dead-letter companion,
  with the partitions and configuration `shared.platform.kafka_admin` gives them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.platform.kafka_admin import wanted_topics
from tools import generated, registry
from tools.registry import PROCESSES, Process

ROOT = generated.ROOT
K8S = ROOT / "deploy" / "k8s"
COMPOSE_TEMPLATE = ROOT / "deploy" / "compose" / "docker-compose.in.yml"
IMAGE = "meldespiegel:latest"
METRICS_PORT = 9100
KAFKA_CLUSTER = "meldespiegel"  # the Strimzi Kafka resource the topics belong to


def _deployment(p: Process) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": p.k8s_name, "app.kubernetes.io/part-of": "meldespiegel"}
    probe = {"httpGet": {"path": "/health", "port": "metrics"}, "periodSeconds": 15}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": p.k8s_name, "labels": labels},
        "spec": {
            "replicas": p.replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": 40,
                    "containers": [
                        {
                            "name": p.k8s_name,
                            "image": IMAGE,
                            "command": ["python", "-m", p.module],
                            "envFrom": [
                                {"configMapRef": {"name": "meldespiegel-config"}},
                                {"secretRef": {"name": "meldespiegel-secrets"}},
                            ],
                            "env": [
                                {"name": k, "value": v}
                                for k, v in sorted((p.env | p.container_env).items())
                            ],
                            "ports": [
                                {"name": "metrics", "containerPort": METRICS_PORT},
                                *(
                                    {"name": n, "containerPort": port}
                                    for n, port in sorted(p.ports.items())
                                ),
                            ],
                            "readinessProbe": {**probe, "initialDelaySeconds": 5},
                            "livenessProbe": {**probe, "initialDelaySeconds": 60},
                            "volumeMounts": [
                                {"name": "pki", "mountPath": "/pki", "readOnly": True}
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "192Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                        }
                    ],
                    "volumes": [{"name": "pki", "secret": {"secretName": "meldespiegel-pki"}}],
                },
            },
        },
    }


def _service(p: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": p.k8s_name},
        "spec": {
            "selector": {"app.kubernetes.io/name": p.k8s_name},
            "ports": [{"name": n, "port": port, "targetPort": n} for n, port in p.ports.items()]
            + ([{"name": "http", "port": 80, "targetPort": "metrics"}] if p.expose else []),
        },
    }


def services_manifest() -> list[dict[str, Any]]:
    docs = [_deployment(p) for p in PROCESSES]
    docs += [_service(p) for p in PROCESSES if p.ports or p.expose]
    return docs


def kafka_topics_manifest() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": w.name.replace(".", "-").replace("_", "-"),  # a DNS name
                "labels": {"strimzi.io/cluster": KAFKA_CLUSTER},
            },
            "spec": {
                "topicName": w.name,
                "partitions": w.partitions,
                "replicas": 3,
                "config": {**w.configs, "min.insync.replicas": "2"},
            },
        }
        for w in wanted_topics()
    ]


def _text(docs: list[dict[str, Any]], what: str) -> str:
    head = f"# {what}. Generated by `python -m tools.deployment write`; do not edit.\n"
    return head + yaml.safe_dump_all(docs, sort_keys=True, allow_unicode=True)


def compose() -> str:
    template = COMPOSE_TEMPLATE.read_text("utf-8")
    head = (
        "# Generated by `python -m tools.deployment write` from tools/registry.py and\n"
        "# deploy/compose/docker-compose.in.yml; do not edit.\n"
    )
    body = template.split("# @generated\n", 1)[1]
    return head + body.replace("  # @services\n", registry.compose_services(), 1)


def rendered() -> dict[Path, str]:
    return {
        ROOT / "deploy" / "local" / "Procfile": registry.procfile(),
        ROOT / "docker-compose.yml": compose(),
        K8S / "services.yaml": _text(services_manifest(), "One Deployment per service process"),
        K8S / "kafka-topics.yaml": _text(
            kafka_topics_manifest(), "Strimzi KafkaTopics from the topic catalogue"
        ),
    }


def stale() -> list[str]:
    return generated.stale(rendered())


if __name__ == "__main__":
    raise SystemExit(generated.main("tools.deployment", rendered))
