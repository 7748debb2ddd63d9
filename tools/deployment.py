"""Deployment files generated from the code, so that they cannot drift from it:

    python -m tools.deployment write   # the files below
    python -m tools.deployment check   # exit 1 if a committed one is stale

- `deploy/local/Procfile` and `docker-compose.yml`: the processes of `tools/registry.py`, the
  latter on its template `deploy/compose/docker-compose.in.yml`.

- `services.yaml`: one Deployment per service process (probes on `/health`, Prometheus
  annotations on `/metrics`, the "restricted" Pod Security Standard), configuration from the
  ConfigMap `meldespiegel-config` and the Secret `meldespiegel-secrets`, the PKI from the Secret
  `meldespiegel-pki`, the Kafka password from the Secret Strimzi makes for the process's
  KafkaUser, kept data (mail_dispatch's print spool) on a PersistentVolumeClaim.
- `kafka-topics.yaml`: a Strimzi `KafkaTopic` (API `kafka.strimzi.io/v1`) per catalogue topic and
  per dead-letter companion, with the partitions and configuration `shared.platform.kafka_admin`
  gives them.
- `kafka-users.yaml`: a Strimzi `KafkaUser` (SCRAM-SHA-512) per process and one for the
  operators, with ACLs for what the process reads and writes.

The YAML keeps strings strings: a value such as `09` (a Landesschlüssel) is quoted, since
Kubernetes reads YAML 1.2, where it would be a number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from shared.contract.topics import CATALOGUE, NAMESPACE, by_name
from shared.platform.kafka_admin import wanted_topics
from tools import generated, registry
from tools.contract import services
from tools.registry import PROCESSES, Process

ROOT = generated.ROOT
K8S = ROOT / "deploy" / "k8s"
COMPOSE_TEMPLATE = ROOT / "deploy" / "compose" / "docker-compose.in.yml"
IMAGE = "meldespiegel:latest"
METRICS_PORT = 9100
KAFKA_CLUSTER = "meldespiegel"  # the Strimzi Kafka resource the topics belong to
STRIMZI_API = "kafka.strimzi.io/v1"
UID = 10001  # the image's user (deploy/Dockerfile)
# Strimzi's internal TLS listener with SCRAM-SHA-512, and the cluster CA it publishes
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"
KAFKA_CA_DIR = "/kafka-ca"


class _Dumper(yaml.SafeDumper):
    """Block YAML without anchors (each manifest reads on its own)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# what a YAML 1.2 (or 1.1) reader would not take for a string when written plain
_NOT_PLAIN = re.compile(
    r"[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+|0[xXoO][0-9a-fA-F_]+|\.(inf|nan))"
    r"|true|false|yes|no|on|off|y|n|null|~|",
    re.IGNORECASE,
)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "'" if _NOT_PLAIN.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def kafka_user(p: Process) -> str:
    """The SCRAM user a process signs in as (and the Secret Strimzi keeps its password in)."""
    return f"meldespiegel-{p.k8s_name}"


def _volume_claim(p: Process, name: str) -> str:
    return f"{p.k8s_name}-{name}"


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
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
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
                                *(
                                    {"name": k, "value": v}
                                    for k, v in sorted((p.env | p.container_env).items())
                                ),
                                {
                                    "name": "MELDESPIEGEL_KAFKA_SASL_USERNAME",
                                    "value": kafka_user(p),
                                },
                                {
                                    "name": "MELDESPIEGEL_KAFKA_SASL_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": kafka_user(p), "key": "password"}
                                    },
                                },
                            ],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
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
                                {"name": "pki", "mountPath": "/pki", "readOnly": True},
                                {"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                                *(
                                    {"name": name, "mountPath": path}
                                    for name, path in sorted(p.data.items())
                                ),
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "192Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                        }
                    ],
                    "volumes": [
                        {"name": "pki", "secret": {"secretName": "meldespiegel-pki"}},
                        {"name": "kafka-ca", "secret": {"secretName": KAFKA_CA_SECRET}},
                        {"name": "tmp", "emptyDir": {}},
                        *(
                            {
                                "name": name,
                                "persistentVolumeClaim": {"claimName": _volume_claim(p, name)},
                            }
                            for name in sorted(p.data)
                        ),
                    ],
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


def _claim(p: Process, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": _volume_claim(p, name)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def services_manifest() -> list[dict[str, Any]]:
    docs = [_deployment(p) for p in PROCESSES]
    docs += [_service(p) for p in PROCESSES if p.ports or p.expose]
    docs += [_claim(p, name) for p in PROCESSES for name in sorted(p.data)]
    return docs


def _acl(kind: str, name: str, operations: list[str], pattern: str = "literal") -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": operations,
    }


def _writes(service: str) -> list[str]:
    """The catalogue's topics a service writes (their `writer` names it)."""
    return [s.name for s in CATALOGUE if service in re.split(r",\s*", s.writer)]


def _user(name: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def kafka_users_manifest(groups: dict[str, tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """A user per process: it reads the topics its consumer group consumes (and writes their
    dead letters), writes what the catalogue says it writes. `groups`: process name -> (its
    consumer group, the topics the group consumes), from the services as they are built."""
    users = []
    for p in PROCESSES:
        acls = [_acl("cluster", "kafka-cluster", ["IdempotentWrite"])]
        if p.name in groups:
            group, consumed = groups[p.name]
            acls.append(_acl("group", group, ["Read", "Describe"]))
            acls += [_acl("topic", t, ["Read", "Describe"]) for t in consumed]
            acls += [_acl("topic", by_name(t).dlq, ["Write", "Describe"]) for t in consumed]
        else:  # the dashboard follows every topic without a group of its own
            acls.append(_acl("topic", NAMESPACE, ["Read", "Describe"], "prefix"))
        service = p.module.removeprefix("services.")
        acls += [_acl("topic", t, ["Write", "Describe"]) for t in _writes(service)]
        users.append(_user(kafka_user(p), acls))
    # the operators' `meldespiegel`: reads every topic, publishes commands and redrives
    users.append(
        _user(
            "meldespiegel-operator",
            [
                _acl("cluster", "kafka-cluster", ["IdempotentWrite", "Describe"]),
                _acl("topic", NAMESPACE, ["Read", "Write", "Describe"], "prefix"),
                _acl("group", "*", ["Describe"]),
            ],
        )
    )
    return users


def kafka_topics_manifest() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": STRIMZI_API,
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
    return head + yaml.dump_all(docs, Dumper=_Dumper, sort_keys=True, allow_unicode=True)


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
        K8S / "kafka-users.yaml": _text(
            kafka_users_manifest(_consumer_groups()),
            "Strimzi KafkaUsers (SCRAM-SHA-512) with the ACLs of each process",
        ),
    }


def _consumer_groups() -> dict[str, tuple[str, list[str]]]:
    built = services()
    with_app = [p for p in PROCESSES if p.app is not None]
    return {
        p.name: (s.name, sorted({t for sub in s.broker.subscribers for t in sub.topic_names}))
        for p, s in zip(with_app, built, strict=True)
    }


def stale() -> list[str]:
    return generated.stale(rendered())


if __name__ == "__main__":
    raise SystemExit(generated.main("tools.deployment", rendered))
