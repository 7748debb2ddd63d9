"""Kubernetes manifests generated from the code, so that they cannot drift from it:

    python -m tools.deployment write   # deploy/k8s/services.yaml, deploy/k8s/kafka-topics.yaml
    python -m tools.deployment check   # exit 1 if the committed manifests are stale

- `services.yaml`: one Deployment per service process (probes on `/health`, Prometheus
  annotations on `/metrics`), configuration from the ConfigMap `meldespiegel-config` and the
  Secret `meldespiegel-secrets`, the PKI from the Secret `meldespiegel-pki`.
- `kafka-topics.yaml`: a Strimzi `KafkaTopic` per catalogue topic and per dead-letter companion,
  with the partitions and configuration `shared.platform.kafka_admin` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.platform.kafka_admin import wanted_topics
from tools import generated

ROOT = generated.ROOT
K8S = ROOT / "deploy" / "k8s"
IMAGE = "meldespiegel:latest"
METRICS_PORT = 9100
KAFKA_CLUSTER = "meldespiegel"  # the Strimzi Kafka resource the topics belong to


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    replicas: int = 1
    expose: bool = False  # a Service for the metrics port (the dashboard's page)


PROCESSES = (
    Process("intake", "services.intake"),
    Process("legal-review", "services.legal_review"),
    Process(
        "provisioning",
        "services.provisioning",
        env={"MELDESPIEGEL_HTTP_HOST": "0.0.0.0"},
        ports={"auth-api": 8081},
    ),
    Process("mail-dispatch", "services.mail_dispatch"),
    Process("query-router", "services.query_router", replicas=2),
    Process(
        "protocol-log",
        "services.protocol_log",
        env={"MELDESPIEGEL_PROTOCOL_API_HOST": "0.0.0.0"},
        ports={"read-api": 8083},
        replicas=2,
    ),
    Process(
        "portal",
        "services.portal",
        env={"MELDESPIEGEL_PORTAL_API_HOST": "0.0.0.0"},
        ports={"requester-api": 8084},
    ),
    Process("register-ni", "services.register_mirror", env={"MELDESPIEGEL_REGISTER_STATE": "03"}),
    Process("register-by", "services.register_mirror", env={"MELDESPIEGEL_REGISTER_STATE": "09"}),
    # the registration offices' registers of the operator's state, the portal's peer
    Process(
        "melderegister-ni",
        "services.register_mirror",
        env={"MELDESPIEGEL_REGISTER_STATE": "03", "MELDESPIEGEL_REGISTER_ART": "melderegister"},
    ),
    # the page, /events and /health on the one port
    Process(
        "dashboard",
        "services.dashboard",
        env={"MELDESPIEGEL_DASHBOARD_HOST": "0.0.0.0", "MELDESPIEGEL_DASHBOARD_PORT": "9100"},
        expose=True,
    ),
)


def _deployment(p: Process) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": p.name, "app.kubernetes.io/part-of": "meldespiegel"}
    probe = {"httpGet": {"path": "/health", "port": "metrics"}, "periodSeconds": 15}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": p.name, "labels": labels},
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
                            "name": p.name,
                            "image": IMAGE,
                            "command": ["python", "-m", p.module],
                            "envFrom": [
                                {"configMapRef": {"name": "meldespiegel-config"}},
                                {"secretRef": {"name": "meldespiegel-secrets"}},
                            ],
                            "env": [{"name": k, "value": v} for k, v in sorted(p.env.items())],
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
        "metadata": {"name": p.name},
        "spec": {
            "selector": {"app.kubernetes.io/name": p.name},
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


def rendered() -> dict[Path, str]:
    return {
        K8S / "services.yaml": _text(services_manifest(), "One Deployment per service process"),
        K8S / "kafka-topics.yaml": _text(
            kafka_topics_manifest(), "Strimzi KafkaTopics from the topic catalogue"
        ),
    }


def stale() -> list[str]:
    return generated.stale(rendered())


if __name__ == "__main__":
    raise SystemExit(generated.main("tools.deployment", rendered))
