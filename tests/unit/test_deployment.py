"""There is no Docker engine here: the compose file is checked against the code instead."""

from __future__ import annotations

import json
import re

import yaml

from tests.helpers import ROOT

PROCESS_COMMAND = re.compile(r"^(?:env (?:[A-Z_]+=(?:'[^']*'|\S+) )+)?python -m ([a-z_.]+)")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))


def service_packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "services").glob("*/__main__.py")}


def test_every_compose_command_runs_a_module_that_exists() -> None:
    for name, service in compose()["services"].items():
        command = service.get("command")
        if command is None:
            assert "image" in service, name  # an official image, not ours
            assert not service.get("build"), name
            continue
        modules = re.findall(r"python -m ([a-z_.]+)", " ".join(command))
        assert modules, name
        for module in modules:
            path = ROOT / module.replace(".", "/")
            assert (path / "__main__.py").exists() or path.with_suffix(".py").exists(), module


def test_every_service_in_the_code_runs_in_compose_and_locally() -> None:
    services = compose()["services"]
    in_compose = {
        s["command"][2].split(".")[1]
        for s in services.values()
        if s.get("command", [""])[2:3] and s["command"][2].startswith("services.")
    }
    assert in_compose == service_packages()
    procfile = (ROOT / "deploy/local/Procfile").read_text("utf-8").splitlines()
    local = {
        m.group(1).split(".")[1]
        for line in procfile
        if not line.startswith("#")
        and (m := PROCESS_COMMAND.match(line.split(":", 1)[1].strip()))
        and m.group(1).startswith("services.")
    }
    assert local == service_packages()


def test_compose_kafka_matches_the_local_broker_version() -> None:
    pom = (ROOT / "deploy/kafka/pom.xml").read_text("utf-8")
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    # the official image by default; the variable names one built here (deploy/compose/smoke)
    image = compose()["services"]["kafka"]["image"]
    assert image == f"${{MELDESPIEGEL_KAFKA_IMAGE:-apache/kafka:{version}}}"


def test_every_service_container_is_probed_and_scraped() -> None:
    for name, service in compose()["services"].items():
        command = " ".join(service.get("command") or [])
        if not re.fullmatch(r"python -m services\.[a-z_]+", command):
            continue  # not a service process (a one-off job, the demo, a third-party image)
        assert service["restart"] == "unless-stopped", name
        assert "/health" in " ".join(service["healthcheck"]["test"]), name
        assert service["environment"]["MELDESPIEGEL_METRICS_PORT"] == "9100", name
    assert compose()["services"]["kafka-ui"]["image"].startswith("ghcr.io/kafbat/kafka-ui:")


def test_kubernetes_manifests_are_generated_from_the_code() -> None:
    from tools import deployment

    assert deployment.stale() == [], "run: python -m tools.deployment write"
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text("utf-8"))
    assert set(kustomization["resources"]) == {
        "namespace.yaml",
        "services.yaml",
        "kafka-topics.yaml",
        "kafka-users.yaml",
    }
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/services.yaml").read_text("utf-8")))
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    modules = {d["spec"]["template"]["spec"]["containers"][0]["command"][2] for d in deployments}
    assert {m.split(".")[1] for m in modules} == service_packages()
    for d in deployments:
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"


def test_strimzi_topics_match_the_catalogue() -> None:
    from shared.platform.kafka_admin import wanted_topics

    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/kafka-topics.yaml").read_text("utf-8")))
    topics = {d["spec"]["topicName"]: d["spec"] for d in docs}
    wanted = {w.name: w for w in wanted_topics()}
    assert set(topics) == set(wanted)
    for name, spec in topics.items():
        assert spec["partitions"] == wanted[name].partitions
        assert {k: v for k, v in spec["config"].items() if k != "min.insync.replicas"} == (
            wanted[name].configs
        )


def test_grafana_dashboard_queries_only_metrics_the_services_expose() -> None:
    from prometheus_client import generate_latest

    from shared.platform.metrics import Metrics

    exposed = set(
        re.findall(r"^# TYPE (\w+) (\w+)", generate_latest(Metrics("t").registry).decode(), re.M)
    )
    names = {name for name, _ in exposed}
    histograms = {name for name, kind in exposed if kind == "histogram"}
    names |= {f"{n}_bucket" for n in histograms}
    counters = {name for name, kind in exposed if kind == "counter"}
    names |= {f"{n}_total" for n in counters}
    dashboard = json.loads((ROOT / "deploy/grafana/meldespiegel.json").read_text("utf-8"))
    used = {
        m
        for p in dashboard["panels"]
        for t in p["targets"]
        for m in re.findall(r"\bmeldespiegel_\w+", t["expr"])
    }
    assert used
    assert used <= names, used - names
