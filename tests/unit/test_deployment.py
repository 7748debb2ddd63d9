"""There is no Docker engine here: the compose file is checked against the code instead."""

from __future__ import annotations

import re

import yaml

from tests.helpers import ROOT

PROCESS_COMMAND = re.compile(r"^python -m ([a-z_.]+)")


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
        if (m := PROCESS_COMMAND.match(line.split(":", 1)[1].strip()))
        and m.group(1).startswith("services.")
    }
    assert local == service_packages()


def test_compose_kafka_matches_the_local_broker_version() -> None:
    pom = (ROOT / "deploy/kafka/pom.xml").read_text("utf-8")
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert compose()["services"]["kafka"]["image"] == f"apache/kafka:{version}"
