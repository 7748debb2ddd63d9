"""A secured cluster: the local broker's SCRAM-SHA-512 listener. A service and the operator CLI
configured for it through the settings work there; a wrong password is refused with a message."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    ROOT,
    RawProducer,
    ServiceProcess,
    application,
    cli,
    cli_ok,
    cli_refused,
    read_all,
    stop_all,
)

pytestmark = pytest.mark.integration


def sasl_env() -> dict[str, str]:
    """The SCRAM settings `deploy/local/stack.sh` wrote for the test profile."""
    path = ROOT / ".local" / "kafka-sasl-test.env"
    assert path.is_file(), "run scripts/test: the stack writes the SCRAM settings"
    pairs = re.findall(r"^export (\w+)=(.*)$", path.read_text(), re.MULTILINE)
    env = dict(pairs)
    assert env["MELDESPIEGEL_KAFKA_BOOTSTRAP"] != os.environ["MELDESPIEGEL_KAFKA_BOOTSTRAP"]
    return env


@pytest.fixture(scope="module")
def intake_over_sasl(artifacts: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("services.intake", artifacts / "intake-sasl.log", sasl_env()).start()
    yield proc
    stop_all([proc])


async def test_a_service_configured_for_scram_consumes_and_publishes(
    intake_over_sasl: ServiceProcess,
) -> None:
    body = application()
    async with RawProducer() as producer:  # an upstream system on the plaintext listener
        await producer.send(Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"])
    accepted = await read_all(
        Topics.APPLICATION_ACCEPTED.name,
        until=lambda rs: any(r.key == body["application_id"] for r in rs),
    )
    assert any(r.key == body["application_id"] for r in accepted)
    log = (intake_over_sasl.log_path).read_text()
    assert sasl_env()["MELDESPIEGEL_KAFKA_SASL_PASSWORD"] not in log


def test_the_cli_works_against_the_secured_listener_and_a_wrong_password_is_refused() -> None:
    env = sasl_env()
    listing = cli_ok(cli("topics", env=env))
    assert "min.application.submitted.v1" in listing
    wrong = {**env, "MELDESPIEGEL_KAFKA_SASL_PASSWORD": "falsch"}
    cli_refused(cli("topics", env=wrong), 1, "refused this client")
    plain = {**env, "MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    del plain["MELDESPIEGEL_KAFKA_SASL_USERNAME"]
    cli_refused(cli("topics", env=plain), 2, "needs MELDESPIEGEL_KAFKA_SASL_USERNAME")


def test_the_cli_takes_the_security_settings_from_a_client_properties_file(
    tmp_path: Path,
) -> None:
    """As Kafka's own tools: `--command-config` with a Java JAAS line, over an environment that
    names the plaintext listener."""
    env = sasl_env()
    path = tmp_path / "client.properties"
    path.write_text(
        f"bootstrap.servers={env['MELDESPIEGEL_KAFKA_BOOTSTRAP']}\n"
        f"security.protocol={env['MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL']}\n"
        f"sasl.mechanism={env['MELDESPIEGEL_KAFKA_SASL_MECHANISM']}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{env["MELDESPIEGEL_KAFKA_SASL_USERNAME"]}" '
        f'password="{env["MELDESPIEGEL_KAFKA_SASL_PASSWORD"]}";\n',
        encoding="utf-8",
    )
    listing = cli_ok(cli("--command-config", str(path), "topics"))
    assert "min.application.submitted.v1" in listing
    path.write_text(path.read_text().replace(env["MELDESPIEGEL_KAFKA_SASL_PASSWORD"], "falsch"))
    cli_refused(cli("--command-config", str(path), "topics"), 1, "refused this client")
    cli_refused(cli("--command-config", str(tmp_path / "none"), "topics"), 2, "No such file")
