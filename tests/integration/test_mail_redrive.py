"""A mail given up after its last attempt is dead-lettered; once the relay is back, an operator's
redrive of that dead letter sends it, and the letter the event also asked for is not printed
twice. mail_dispatch runs as its own process on the real broker and database, the relay is a
real SMTP server that is down at first, the redrive is the operator CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.contract.events.account import CredentialPurpose
from shared.contract.topics import Topics
from tests.factories import credentials
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    cli,
    cli_ok,
    eventually,
    headers_for,
    read_all,
    skip_backlog,
    stop_all,
)
from tests.identities import operator_key
from tests.retrieval import token
from tests.smtp import SmtpServer

pytestmark = pytest.mark.integration
OPERATOR = f"op-redrive-{token()}"


@pytest.fixture(scope="module")
def relay() -> Iterator[SmtpServer]:
    server = SmtpServer()  # its port is chosen, nothing listens on it yet
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dispatcher(
    relay: SmtpServer, artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    spool = tmp_path_factory.mktemp("spool")
    env = {
        "MELDESPIEGEL_SMTP_PORT": str(relay.port),
        "MELDESPIEGEL_SMTP_MAX_ATTEMPTS": "2",
        "MELDESPIEGEL_SMTP_RETRY_BASE_SECONDS": "1",
        "MELDESPIEGEL_SMTP_TIMEOUT_SECONDS": "2",
        "MELDESPIEGEL_MAIL_SEND_INTERVAL_SECONDS": "0.5",
        "MELDESPIEGEL_PRINT_SPOOL_DIR": str(spool),
    }
    skip_backlog("mail_dispatch")
    procs = [ServiceProcess("services.mail_dispatch", artifacts / "mail-redrive.log", env).start()]
    yield spool
    stop_all(procs)


async def test_a_redriven_dead_letter_of_a_failed_mail_is_sent(
    relay: SmtpServer, dispatcher: Path
) -> None:
    event, _ = credentials(CredentialPurpose.ADMINISTRATOR_INITIAL)
    body = json.loads(event.model_dump_json())
    headers = headers_for(Topics.ACCOUNT_CREDENTIALS.event_type)
    async with RawProducer() as producer:
        await producer.send(
            Topics.ACCOUNT_CREDENTIALS.name, body, key=event.tenant_id, headers=headers
        )
    event_id = dict(headers)["ce_id"].decode()

    dlq = Topics.ACCOUNT_CREDENTIALS.dlq
    letters = await read_all(
        dlq, until=lambda rs: any(r.headers.get("ce_id") == event_id for r in rs)
    )
    [letter] = [r for r in letters if r.headers.get("ce_id") == event_id]
    assert letter.headers["dlq_error_type"] == "MailDeliveryFailed"
    assert letter.headers["dlq_service"] == "mail_dispatch"
    assert relay.received == []

    relay.start()  # the relay is back
    ref = f"{dlq}/{letter.partition}/{letter.offset}"
    operator_key(OPERATOR)  # the operator's signing key: mail_dispatch verifies the redrive
    cli_ok(cli("dlq", "redrive", ref, env={"MELDESPIEGEL_OPERATOR": OPERATOR}))

    def delivered() -> bool:
        return any(r.recipient == event.email for r in relay.received)

    await eventually(delivered, "the redriven mail reaches the relay")
    assert [r.recipient for r in relay.received].count(event.email) == 1
    # the password letter went to the print spool the first time and is not printed again
    assert [f for f in os.listdir(dispatcher) if f.startswith(event_id)] == [
        f"{event_id}.password_letter.pdf"
    ]
