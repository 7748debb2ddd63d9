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
