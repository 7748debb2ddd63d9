"""The `meldespiegel` command as operators run it (its own process) against the real broker, the
services as processes, and the authentication and protocol read APIs: applications followed to
their tenant, manual reviews, tenant restrictions, a Personensuche with its Vorgangsnummer, the
log read for a purpose by a signed-in operator account, a security authority evaluating its own
commissioned log with its own sign-in, dead letters redriven, the topic catalogue with lag. Bad
input gives a message and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.contract.events.application import CompleteApplication
from shared.contract.topics import Topics
from shared.platform.kafka_client import KafkaClient, partition_for
from shared.platform.operator_signatures import COMMAND
from shared.platform.pki import CA_CERT, LETTER_KEY
from shared.platform.sealed import credential_context, load_private_key, open_sealed
from shared.platform.settings import get_settings
from tests import identities
from tests.factories import approval, complete_application
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    application,
    bootstrap,
    cli,
    cli_ok,
    cli_refused,
    eventually,
    headers_for,
    read_all,
    skip_backlog,
    stop_all,
    wait_for_http,
)
from tests.retrieval import (
    HANNOVER,
    deliver,
    delivery,
    delivery_log,
    person,
    publish,
    tenant_state,
    token,
)
from tests.smtp import SmtpServer, free_port, verified_text

pytestmark = pytest.mark.integration
TOK = token().lower()
NEW_PASSWORD = "Auswertung-2026!"
PKI = get_settings().pki_dir
SERVICES = (
    "intake", "legal_review", "provisioning", "mail_dispatch", "query_router", "alert_cases",
)  # fmt: skip


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    artifacts: Path, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[dict[str, str]]:
    api_port, auth_port = free_port(), free_port()
    env = {
        "MELDESPIEGEL_SMTP_PORT": str(smtp.port),
        "MELDESPIEGEL_PRINT_SPOOL_DIR": str(tmp_path_factory.mktemp("spool")),
        "MELDESPIEGEL_HTTP_PORT": str(auth_port),
        "MELDESPIEGEL_PROTOCOL_API_PORT": str(api_port),
        "MELDESPIEGEL_OPERATORS": '["op-cli-test"]',
    }
    skip_backlog(*SERVICES, "protocol_log", "register_mirror_03")
    procs = [
        ServiceProcess(f"services.{name}", artifacts / f"cli-{name}.log", env).start()
        for name in (*SERVICES, "protocol_log")
    ]
    procs.append(
        ServiceProcess(
            "services.register_mirror",
            artifacts / "cli-register03.log",
            {**env, "MELDESPIEGEL_REGISTER_STATE": "03"},
        ).start()
    )
    # the operators' signing keys, issued by the installation's operator CA
    identities.operator_key("op-cli-test")
    identities.operator_key("op-unbekannt")
    sessions = tmp_path_factory.mktemp("sessions")
    stack = {
        "MELDESPIEGEL_PROTOCOL_API_URL": f"http://127.0.0.1:{api_port}",
        "MELDESPIEGEL_AUTH_API_URL": f"http://127.0.0.1:{auth_port}",
        "MELDESPIEGEL_SESSION_FILE": str(sessions / "dsb.json"),
        "MELDESPIEGEL_OPERATOR": "op-cli-test",
    }
    # the operator's data-protection officer: an operator account, signed in with the CLI
    made = subprocess.run(
        [sys.executable, "-m", "services.provisioning.admin", "operator-account", f"dsb-{TOK}",
         "--role", "datenschutz", "--first-name", "Dana", "--surname", "Schütte",
         "--email", "dsb@meldespiegel.example"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    initial = made.stdout.split("change at first sign-in): ")[1].strip()
    wait_for_http(f"{stack['MELDESPIEGEL_AUTH_API_URL']}/health")
    signed = cli_ok(
        cli("login", f"dsb-{TOK}", "--password-stdin", env=stack,
            stdin=f"{initial}\n{NEW_PASSWORD}\n")
    )  # fmt: skip
    assert f"signed in as dsb-{TOK} (operator account, role datenschutz)" in signed
    yield stack
    stop_all(procs)


def test_apply_follows_an_application_to_its_tenant_and_status_tells_it_again(
    stack: dict[str, str], tmp_path: Path
) -> None:
    body = application(f"CLI-OK-{TOK}")
    path = tmp_path / "antrag.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")

    followed = cli_ok(cli("apply", str(path), "--settle", "2", env=stack))
    assert f"submitted {body['application_id']}" in followed
    assert "accepted as complete" in followed
    # § 35a VwVfG: the rules recommend; the decision is the operator's signature
    assert "recommended: approved; waiting for an operator's signature" in followed
    signed = sign(body["application_id"], stack)
    assert "Zugang ist rechtlich zulässig: Ja." in signed
    assert "approved, signed by op-cli-test" in signed
    assert re.search(r"new_tenant: tenant \S+, administrator \S+", follow(body, stack))

    # the letter goes to the print spool once mail_dispatch has taken the credentials on, which
    # may be after `apply` stopped following: asked again until it shows (a liveness bound)
    timeline = cli_ok(cli("status", body["application_id"], env=stack))
    deadline = time.monotonic() + 60
    mailed = ("password_letter", "approval_notice to")
    while not all(m in timeline for m in mailed) and time.monotonic() < deadline:
        time.sleep(1)
        timeline = cli_ok(cli("status", body["application_id"], env=stack))
    # the mails went out, signed (and encrypted if they can): the decision and the account
    for step in ("submitted", "accepted as complete", "signed by op-cli-test: approved",
                 "approved, signed by op-cli-test", "approval_notice to"):  # fmt: skip
        assert step in timeline
    assert "credentials issued for" in timeline
    assert "password_letter" in timeline
    # time order: submitted first, the decision before the credentials
    assert timeline.index("submitted") < timeline.index("approved") < timeline.index("credentials")
    # the same for scripts: one JSON document
    document = json.loads(cli_ok(cli("status", body["application_id"], "-o", "json", env=stack)))
    assert document["application_id"] == body["application_id"]
    assert document["state"] == "approved; tenant and administrator provisioned"
    steps = document["timeline"]
    assert steps[0]["topic"] == Topics.APPLICATION_SUBMITTED.name
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    assert any(s["what"].startswith("credentials issued for") for s in steps)


async def test_status_finds_an_application_on_a_partition_its_key_does_not_hash_to(
    stack: dict[str, str],
) -> None:
    """An upstream system's producer may use another partitioner than murmur2 (kcat's default is
    CRC32): the submitted application sits on some other partition, and status still finds it."""
    body = application(f"CLI-PART-{TOK}")
    key = body["application_id"]
    spec = Topics.APPLICATION_SUBMITTED
    elsewhere = (partition_for(key, spec.partitions) + 1) % spec.partitions
    async with KafkaClient(bootstrap()) as client:
        sent = await (await client.producer()).send_and_wait(
            spec.name,
            json.dumps(body).encode(),
            key=key.encode(),
            partition=elsewhere,
            headers=headers_for(spec.event_type),
        )
    assert sent.partition == elsewhere

    async def timeline() -> str:
        shown = await asyncio.to_thread(lambda: cli_ok(cli("status", key, env=stack)))
        return shown if "accepted as complete" in shown else ""

    shown = await eventually(timeline, f"status of {key}")
    assert shown.index("submitted") < shown.index("accepted as complete")


def test_apply_reports_an_incomplete_application(stack: dict[str, str], tmp_path: Path) -> None:
    body = application(f"CLI-INC-{TOK}", **{"compliance.measures": None})
    path = tmp_path / "antrag.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    followed = cli_ok(cli("apply", str(path), "--settle", "2", env=stack))
    assert "incomplete:" in followed
    assert "incomplete (the authority was told the defects)" in followed


def test_bad_arguments_give_a_message_and_a_non_zero_exit(
    stack: dict[str, str], tmp_path: Path
) -> None:
    cli_refused(cli("apply", str(tmp_path / "missing.json")), 2, "no such file")
    (tmp_path / "broken.yaml").write_text("application_id: [unclosed", encoding="utf-8")
    cli_refused(cli("apply", str(tmp_path / "broken.yaml")), 2, "is not valid YAML")
    (tmp_path / "bad-id.json").write_text(json.dumps(application("bad id!")), encoding="utf-8")
    cli_refused(cli("apply", str(tmp_path / "bad-id.json")), 2, "application_id")
    cli_refused(cli("review", "decide", "X-1", "--reason", "r"), 2, "exactly one of --approve")
    cli_refused(cli("review", "decide", "X-1", "--approve"), 2, "--reason is required")
    cli_refused(cli("review", "sign", f"X-{TOK}", "--yes", env=stack), 2, "waits for no signature")
    cli_refused(cli("dlq", "show", "no-such-ref"), 2, "is not a dead letter reference")
    cli_refused(cli("dlq", "redrive"), 2, "give one reference or --all")
    cli_refused(cli("dlq", "list", "--topic", "min.nonsense.v1"), 2, "has no dead-letter topic")
    cli_refused(cli("log", "subject", "03241001"), 2, "expected AGS:Ordnungsmerkmal")
    cli_refused(cli("log", "export", "--purpose", "neugier"), 2, "Invalid value for '--purpose'")
    cli_refused(cli("tenant", "show", f"T-none-{TOK}", env=stack), 1, "no tenant")
    cli_refused(cli("--bootstrap", "127.0.0.1:1", "topics"), 1, "no Kafka broker answers")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        cli_refused(
            cli("--bootstrap", f"127.0.0.1:{silent.getsockname()[1]}", "--timeout", "2", "topics"),
            1,
            "within 2 s: something accepts the connection there but does not answer",
        )
    assert cli_ok(cli("--version")).strip() == f"meldespiegel {metadata.version('meldespiegel')}"
    cli_refused(cli("topics", "-o", "yaml"), 2, "Invalid value for '--output'")
    nobody = {**stack, "MELDESPIEGEL_SESSION_FILE": str(tmp_path / "none.json")}
    cli_refused(cli("log", "verify", env=nobody), 1, "not signed in")
    forged = tmp_path / "forged.json"
    session = json.loads(Path(stack["MELDESPIEGEL_SESSION_FILE"]).read_text())
    forged.write_text(json.dumps(session | {"access_token": session["access_token"] + "x"}))
    cli_refused(
        cli("log", "verify", env={**stack, "MELDESPIEGEL_SESSION_FILE": str(forged)}),
        1,
        "refused (401)",
    )
    gone = {**stack, "MELDESPIEGEL_PROTOCOL_API_URL": f"http://127.0.0.1:{free_port()}"}
    cli_refused(cli("log", "verify", env=gone), 1, "no answer from")
    cli_refused(
        cli("login", f"dsb-{TOK}", "--password-stdin", env=nobody, stdin="falsch\n"),
        1,
        "Kennung oder Passwort falsch",
    )


def test_review_list_shows_a_manual_case_until_an_operator_decides_it(
    stack: dict[str, str], tmp_path: Path
) -> None:
    body = application(
        f"CLI-MAN-{TOK}",
        **{"network.channel": "sonstiger", "network.reason_if_other": "Außenstelle ohne Netz"},
    )
    path = tmp_path / "manual.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    followed = cli_ok(cli("apply", str(path), "--settle", "1", env=stack))
    assert "waiting for a manual decision: NETWORK_INDIVIDUAL_DECISION" in followed
    # the rules recommend nothing here: signing "as it stands" is refused, a decision is needed
    cli_refused(
        cli("review", "sign", body["application_id"], "--yes", env=stack),
        2,
        "the rules left this case open",
    )

    listed = cli_ok(cli("review", "list", env=stack))
    assert body["application_id"] in listed
    assert "NETWORK_INDIVIDUAL_DECISION" in listed
    [case] = [
        c
        for c in json.loads(cli_ok(cli("review", "list", "-o", "json", env=stack)))
        if c["application_id"] == body["application_id"]
    ]
    assert "NETWORK_INDIVIDUAL_DECISION" in case["needed"]
    assert datetime.fromisoformat(case["pending_since"]).tzinfo is not None

    decided = cli_ok(
        cli(
            "review",
            "decide",
            body["application_id"],
            "--approve",
            "--reason",
            "Innenministerium stimmt der Außenstelle zu (Az. 12-3).",
            env=stack,
        )
    )
    assert "approved, signed by op-cli-test" in decided
    assert body["application_id"] not in cli_ok(cli("review", "list", env=stack))
    # deciding it once more is refused by legal_review, and the CLI says so
    again = cli("review", "decide", body["application_id"], "--reject", "--reason", "x", env=stack)
    cli_refused(again, 1, "legal_review did not apply the decision")


def sign(application_id: str, env: dict[str, str]) -> str:
    """The operator signs the recommendation as it stands (`--yes` for the keystroke)."""
    deadline = time.monotonic() + 30
    while True:  # the recommendation reaches the topic a moment after `apply` stops following
        done = cli("review", "sign", application_id, "--yes", env=env)
        if done.returncode == 0 or time.monotonic() > deadline:
            return cli_ok(done)
        time.sleep(1)


def follow(body: dict[str, object], env: dict[str, str]) -> str:
    """The application's timeline once provisioning has made its tenant."""
    deadline = time.monotonic() + 60
    timeline = cli_ok(cli("status", str(body["application_id"]), env=env))
    while "tenant and administrator provisioned" not in timeline and time.monotonic() < deadline:
        time.sleep(1)
        timeline = cli_ok(cli("status", str(body["application_id"]), env=env))
    return timeline


def _tenant_of(application_id: str, env: dict[str, str]) -> str:
    timeline = cli_ok(cli("status", application_id, env=env))
    found = re.search(r"tenant (\S+), administrator", timeline)
    assert found, timeline
    return found.group(1).rstrip(",")


def test_tenant_show_users_restrict_and_lift(stack: dict[str, str], tmp_path: Path) -> None:
    body = application(f"CLI-TEN-{TOK}")
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    cli_ok(cli("apply", str(path), "--settle", "1", env=stack))
    sign(body["application_id"], stack)
    follow(body, stack)
    tenant = _tenant_of(body["application_id"], stack)

    shown = cli_ok(cli("tenant", "show", tenant, env=stack))
    assert re.search(r"status\W+active", shown)
    users = cli_ok(cli("tenant", "users", tenant, env=stack))
    assert "administrator" in users
    assert "active" in users

    cli_refused(cli("tenant", "restrict", tenant, env=stack), 2, "--reason is required")
    stranger = {**stack, "MELDESPIEGEL_OPERATOR": "op-unbekannt"}
    cli_refused(
        cli("tenant", "restrict", tenant, "--reason", "Test", env=stranger),
        1,
        "refused: UNKNOWN_OPERATOR",
    )
    restricted = cli_ok(
        cli("tenant", "restrict", tenant, "--reason", "TLS-Zertifikat abgelaufen", env=stack)
    )
    assert f"{tenant}: tenant_restricted" in restricted
    assert re.search(r"status\W+restricted", cli_ok(cli("tenant", "show", tenant, env=stack)))
    lifted = cli_ok(cli("tenant", "lift", tenant, "--reason", "Zertifikat erneuert", env=stack))
    assert f"{tenant}: tenant_lifted" in lifted
    assert re.search(r"status\W+active", cli_ok(cli("tenant", "show", tenant, env=stack)))
    assert tenant in cli_ok(cli("tenant", "list", env=stack))
    tenants = json.loads(cli_ok(cli("tenant", "list", "--output", "json", env=stack)))
    [mine] = [t for t in tenants if t["tenant_id"] == tenant]
    assert mine["status"] == "active"
    assert mine["users"] == 1
    state = json.loads(cli_ok(cli("tenant", "show", tenant, "-o", "json", env=stack)))
    assert state["tenant_id"] == tenant
    assert state["status"] == "active"
    [admin] = json.loads(cli_ok(cli("tenant", "users", tenant, "-o", "json", env=stack)))
    assert admin["kind"] == "administrator"
    assert admin["user_id"] == state["users"][0]["user_id"]

    # machine procedures (NMeldVO 2022 § 26 Abs. 2) and § 34a Abs. 6, by account command
    registered = cli_ok(
        cli("tenant", "register-procedure", tenant, "--name", "OK.EWO", "--responsible",
            "Dr. Ruth Ahrens", "--fingerprint", "5e" * 32, "--reason", "Antrag", env=stack)
    )  # fmt: skip
    assert f"{tenant}: procedure_registered" in registered
    listed = cli_ok(cli("tenant", "procedures", tenant, env=stack))
    assert "OK.EWO" in listed
    assert "active" in listed
    [procedure] = json.loads(cli_ok(cli("tenant", "procedures", tenant, "-o", "json", env=stack)))
    assert procedure == {
        "name": "OK.EWO",
        "verantwortliche_person": "Dr. Ruth Ahrens",
        "certificate_fingerprint": "5e" * 32,
        "status": "active",
    }
    locked = cli_ok(
        cli("tenant", "lock-procedure", tenant, "--name", "OK.EWO", "--reason", "Test", env=stack)
    )
    assert f"{tenant}: procedure_locked" in locked
    assert "locked" in cli_ok(cli("tenant", "procedures", tenant, env=stack))
    nobody = "00000000-0000-0000-0000-000000000000"
    cli_refused(
        cli("tenant", "authorise", tenant, "--user-id", nobody, "--reason", "Test", env=stack),
        1,
        "refused: UNKNOWN_USER",
    )


async def test_query_prints_the_answer_and_the_log_is_read_for_a_purpose(
    stack: dict[str, str],
) -> None:
    tenant = f"T-cli-{TOK}"
    name = f"Brückner{TOK}"
    registered = delivery(HANNOVER, [person(f"CLI{TOK}", name, ["Lotte"], "19750909")])
    async with RawProducer() as producer:
        await publish(producer, Topics.TENANT_STATE.name, tenant_state(tenant), tenant)
        await deliver(producer, registered)
    await delivery_log({registered["delivery_id"]})
    args = [
        "query",
        "--tenant", tenant,
        "--user", "sachbearbeitung",
        "--ags", HANNOVER[0],
        "--familienname", name,
        "--vornamen", "Lotte",
        "--geburtsdatum", "19750909",
        "--aktenzeichen", "AZ 7-1/2026",
        "--anlass", "Zustellung eines Bescheids",
        "--anschrift", "Schloßplatz 1, 30159 Hannover",
        "--erreichbarkeit", "+49 511 0000",
    ]  # fmt: skip
    answer = cli(*args, env=stack)
    for _ in range(5):  # the router may not have read the new tenant yet: it refuses, say so
        if "MANDANT_UNBEKANNT" not in answer.stdout:
            break
        answer = cli(*args, env=stack)
    text = cli_ok(answer)
    vorgangsnummer = re.search(r"Vorgangsnummer (03-\d{8}-\S+)", text).group(1)
    assert "Ergebnisstatus 01" in text
    assert name in text
    assert "Lotte" in text

    exported = cli_ok(
        cli(
            "log", "export", "--purpose", "datenschutzkontrolle", "--tenant", tenant,
            "--format", "json", env=stack,
        )
    )  # fmt: skip
    entries = json.loads(exported)
    assert vorgangsnummer in {e["vorgangsnummer"] for e in entries}
    csv_text = cli_ok(
        cli("log", "export", "--purpose", "datenschutzkontrolle", "--tenant", tenant, env=stack)
    )
    assert csv_text.splitlines()[0].startswith("chain,seq,")
    assert vorgangsnummer in csv_text

    [entry] = [e for e in entries if e["vorgangsnummer"] == vorgangsnummer]
    [hit] = entry["treffer"]
    subject = cli_ok(
        cli("log", "subject", f"{hit['gemeindeschluessel']}:{hit['ordnungsmerkmal']}", env=stack)
    )
    assert vorgangsnummer in {e["vorgangsnummer"] for e in json.loads(subject)}

    verified = cli("log", "verify", env=stack)
    assert "operator: intact" in cli_ok(verified)


async def test_dead_letters_are_listed_shown_and_redriven_once(stack: dict[str, str]) -> None:
    key = f"CLI-DLQ-{TOK}"
    async with RawProducer() as producer:
        await producer.send(Topics.APPLICATION_SUBMITTED.name, b"{not json", key=key)
    dlq = Topics.APPLICATION_SUBMITTED.dlq
    [letter] = [
        r
        for r in await read_all(dlq, until=lambda rs: any(r.key == key for r in rs))
        if r.key == key
    ]
    ref = f"{dlq}/{letter.partition}/{letter.offset}"

    listed = cli_ok(cli("dlq", "list", "--topic", Topics.APPLICATION_SUBMITTED.name, env=stack))
    assert ref in listed
    assert "UndecodableEvent" in listed
    shown = cli_ok(cli("dlq", "show", ref, env=stack))
    assert "dlq_original_topic" in shown
    assert Topics.APPLICATION_SUBMITTED.name in shown

    dry = cli_ok(cli("dlq", "redrive", ref, "--dry-run", env=stack))
    assert f"would redrive {ref} → {Topics.APPLICATION_SUBMITTED.name}" in dry
    assert ref in cli_ok(cli("dlq", "list", env=stack))  # a dry run changes nothing

    cli_ok(cli("dlq", "redrive", ref, env=stack))
    back = await read_all(
        Topics.APPLICATION_SUBMITTED.name,
        until=lambda rs: any(r.headers.get("redriven_from") == ref for r in rs),
    )
    [copy] = [r for r in back if r.headers.get("redriven_from") == ref]
    assert copy.value == b"{not json"
    assert copy.key == key
    assert copy.headers["ce_id"] == letter.headers["ce_id"]
    assert copy.headers["redriven_by"] == "op-cli-test"
    assert not any(h.startswith("dlq_") for h in copy.headers)
    audit = await read_all(
        Topics.OPERATOR_REDRIVEN.name, until=lambda rs: any(ref in r.value.decode() for r in rs)
    )
    assert [r.json()["operator"] for r in audit if r.json()["dead_letter"] == ref] == [
        "op-cli-test"
    ]

    assert ref not in cli_ok(cli("dlq", "list", env=stack))
    assert ref in cli_ok(cli("dlq", "list", "--redriven", env=stack))
    letters = json.loads(cli_ok(cli("dlq", "list", "--redriven", "-o", "json", env=stack)))
    [redriven] = [d for d in letters if d["reference"] == ref]
    assert redriven["key"] == key
    assert redriven["error"].startswith("UndecodableEvent")
    assert redriven["redriven_by"] == "op-cli-test"
    cli_refused(cli("dlq", "redrive", ref, env=stack), 1, "was redriven by op-cli-test")
    # still poison: intake dead-letters the copy again, under a new reference
    again = await read_all(dlq, until=lambda rs: sum(r.key == key for r in rs) >= 2)
    assert sum(r.key == key for r in again) == 2
    dry_all = cli_ok(cli("dlq", "redrive", "--all", "--topic", dlq, "--dry-run", env=stack))
    assert ref not in dry_all
    assert re.search(r"would redrive \S+ → min\.application\.submitted\.v1 \(key " + key, dry_all)


async def test_topics_lists_the_catalogue_with_partitions_and_lag(stack: dict[str, str]) -> None:
    async with RawProducer() as producer:  # something for intake to have consumed
        body = application(f"CLI-TOP-{TOK}")
        await producer.send(
            Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"],
            headers=headers_for(),
        )  # fmt: skip
    listing = cli_ok(cli("topics", env=stack))
    row = next(line for line in listing.splitlines() if " min.application.submitted.v1 " in line)
    assert re.search(r"\b6\b", row)
    assert re.search(r"intake=\d+", row)
    assert "min.register.request.09.v1" in listing
    assert "min.operator.redriven.v1" in listing
    assert "missing" not in listing
    rows = {r["name"]: r for r in json.loads(cli_ok(cli("topics", "-o", "json", env=stack)))}
    submitted = rows[Topics.APPLICATION_SUBMITTED.name]
    assert submitted["partitions_found"] == submitted["partitions_wanted"] == 6
    assert submitted["retained"] >= 1
    assert isinstance(submitted["lag"]["intake"], int)


async def provisioned_by_approval(app: CompleteApplication) -> dict[str, Any]:
    """The tenant provisioning makes of an approval (as legal_review publishes it)."""
    async with RawProducer() as producer:
        await publish(
            producer,
            Topics.REVIEW_DECIDED.name,
            approval(app).model_dump(mode="json"),
            app.application_id,
        )
    [provisioned] = [
        r.json()
        for r in await read_all(
            Topics.ACCOUNT_PROVISIONED.name,
            until=lambda rs: any(app.application_id in r.value.decode() for r in rs),
        )
        if r.json()["application_id"] == app.application_id
    ]
    return provisioned


async def test_a_security_authority_evaluates_its_own_commissioned_log_with_its_own_sign_in(
    stack: dict[str, str], tmp_path: Path
) -> None:
    """§ 40 Abs. 3 BMG: the operator logs a security authority's retrievals on commission; § 40
    Abs. 5 Satz 3 BMG: the authority evaluates them for its Datenschutzkontrolle, with its own
    sign-in, and sees no other authority's entries; the operator's officer does not see its
    commissioned chain."""
    app = complete_application(
        f"CLI-SEC-{TOK}",
        **{
            "authority.kind": "polizei",
            "access_type": "sicherheitsbehoerde",
            "logging_arrangement": "auftragsverarbeitung",
        },
    )
    provisioned = await provisioned_by_approval(app)
    tenant, username = provisioned["tenant_id"], provisioned["administrator_username"]
    [credentials] = [
        r.json()
        for r in await read_all(
            Topics.ACCOUNT_CREDENTIALS.name,
            until=lambda rs: any(username.encode() in r.value for r in rs),
        )
        # the topic may also hold other tests' unreadable records: only this user's are read
        if username.encode() in r.value and r.json()["username"] == username
    ]
    key = load_private_key((PKI / LETTER_KEY).read_bytes())
    context = credential_context(credentials["user_id"], credentials["purpose"])
    initial = open_sealed(key, credentials["sealed_secret"], context).decode()
    authority = {**stack, "MELDESPIEGEL_SESSION_FILE": str(tmp_path / "authority.json")}
    signed = cli_ok(
        cli("login", username, "--password-stdin", env=authority,
            stdin=f"{initial}\n{NEW_PASSWORD}\n")
    )  # fmt: skip
    assert f"signed in as {username} (administrator of tenant {tenant}; auswertung)" in signed
    assert f"signed in: {username}" in cli_ok(cli("whoami", env=authority))
    who = json.loads(cli_ok(cli("whoami", "-o", "json", env=authority)))
    assert who["signed_in"].startswith(username)
    assert datetime.fromisoformat(who["token_valid_until"]) > datetime.now(UTC)

    name = f"Kowalski{TOK}"
    registered = delivery(HANNOVER, [person(f"SEC{TOK}", name, ["Jan"], "19800101")])
    async with RawProducer() as producer:
        await deliver(producer, registered)
    await delivery_log({registered["delivery_id"]})
    args = [
        "query", "--tenant", tenant, "--user", username, "--ags", HANNOVER[0],
        "--familienname", name, "--vornamen", "Jan", "--geburtsdatum", "19800101",
        "--aktenzeichen", "ST 12/2026", "--anlass", "Ermittlungsverfahren",
        "--anschrift", "Waterloostraße 9, 30169 Hannover", "--erreichbarkeit", "+49 511 1",
    ]  # fmt: skip
    answer = cli(*args, env=authority)
    for _ in range(10):  # the router may not have read the new tenant yet
        if "MANDANT_UNBEKANNT" not in answer.stdout + answer.stderr:
            break
        await asyncio.sleep(1)
        answer = cli(*args, env=authority)
    vorgangsnummer = re.search(r"Vorgangsnummer (03-\d{8}-\S+)", cli_ok(answer)).group(1)

    today = time.strftime("%Y-%m-%d")
    own = json.loads(
        cli_ok(
            cli("log", "export", "--purpose", "datenschutzkontrolle", "--user", username,
                "--since", today, "--format", "json", env=authority)
        )
    )  # fmt: skip
    [entry] = [e for e in own if e["vorgangsnummer"] == vorgangsnummer]
    assert entry["chain"] == f"tenant:{tenant}"
    assert {e["tenant_id"] for e in own} == {tenant}
    [hit] = entry["treffer"]
    person_filter = f"{hit['gemeindeschluessel']}:{hit['ordnungsmerkmal']}"
    by_person = cli_ok(
        cli("log", "export", "--purpose", "datenschutzkontrolle", "--person", person_filter,
            env=authority)
    )  # fmt: skip
    header, *rows = by_person.splitlines()
    assert header.startswith("chain,seq,vorgangsnummer,tenant_id,kennung")
    assert [r.split(",")[2] for r in rows] == [vorgangsnummer]
    nothing = json.loads(
        cli_ok(
            cli("log", "export", "--purpose", "datenschutzkontrolle", "--user", "someone-else",
                "--format", "json", env=authority)
        )
    )  # fmt: skip
    assert nothing == []

    cli_refused(
        cli("log", "export", "--purpose", "datenschutzkontrolle", "--tenant", f"T-cli-{TOK}",
            env=authority),
        1,
        "refused (403): an authority reads only its own retrievals",
    )  # fmt: skip
    cli_refused(cli("log", "verify", env=authority), 1, "refused (403)")
    cli_refused(
        cli("log", "export", "--purpose", "betriebssicherung", env=authority), 1, "refused (403)"
    )
    # the operator's officer reads the operator's chain, not the authority's commissioned one
    officer = json.loads(
        cli_ok(
            cli("log", "export", "--purpose", "datenschutzkontrolle", "--tenant", tenant,
                "--format", "json", env=stack)
        )
    )  # fmt: skip
    assert vorgangsnummer not in {e["vorgangsnummer"] for e in officer}
    # the operator locks the administrator: the session's refresh token is refused from then on
    session_file = Path(authority["MELDESPIEGEL_SESSION_FILE"])
    session = json.loads(await asyncio.to_thread(session_file.read_text))
    locked = cli_ok(
        cli("tenant", "user", tenant, "lock", "--user-id", session["user_id"],
            "--reason", "Verdacht auf Missbrauch", env=stack)
    )  # fmt: skip
    assert f"{tenant}: user_locked" in locked
    async with httpx.AsyncClient(base_url=stack["MELDESPIEGEL_AUTH_API_URL"]) as auth:
        refresh = await auth.post(
            "/auth/refresh", json={"refresh_token": session["refresh_token"]}, timeout=30
        )
    assert (refresh.status_code, refresh.json()["outcome"]) == (403, "user_locked")
    cli_ok(cli("logout", env=authority))
    cli_refused(cli("log", "verify", env=authority), 1, "not signed in")


async def test_commands_in_an_operators_name_without_the_operators_signature_change_nothing(
    stack: dict[str, str],
) -> None:
    """On the real stack: an account command naming op-cli-test that is unsigned, signed by
    another operator, or changed after signing, is rejected with the reason and the tenant keeps
    its status; a manual decision signed by another operator is refused; a redriven copy whose
    redrive signature is missing goes back to the dead-letter topic with the reason."""
    app = complete_application(f"CLI-SIG-{TOK}")
    provisioned = await provisioned_by_approval(app)
    tenant = provisioned["tenant_id"]
    own, other = identities.operator_key("op-cli-test"), identities.operator_key("op-unbekannt")

    def command(kind: str) -> dict[str, Any]:
        return {
            "command_id": f"SIG-{kind}-{TOK}",
            "tenant_id": tenant,
            "action": "suspend_tenant",
            "actor": {"kind": "operator", "id": "op-cli-test"},
            "reason": "Verdacht auf Missbrauch",
        }

    name = Topics.ACCOUNT_COMMAND.name
    async with RawProducer() as producer:
        unsigned = command("none")
        await producer.send(
            name, unsigned, key=tenant, headers=headers_for(Topics.ACCOUNT_COMMAND.event_type)
        )
        await publish(producer, name, command("other"), tenant, signed_by=other)
        # signed as one command, published with another reason in the body
        altered = command("altered")
        headers = headers_for(Topics.ACCOUNT_COMMAND.event_type)
        plain = {k: v.decode() for k, v in headers}
        signature = own.sign(COMMAND, name, tenant.encode(), plain, json.dumps(altered).encode())
        headers += [(k, v.encode()) for k, v in signature.items()]
        await producer.send(name, altered | {"action": "lift_tenant"}, key=tenant, headers=headers)
        decision = {
            "application_id": f"CLI-SIG-NONE-{TOK}",
            "operator_id": "op-cli-test",
            "decision": "approved",
            "reason": "gefälscht",
        }
        await publish(
            producer, Topics.REVIEW_MANUAL_DECISION.name, decision, decision["application_id"],
            signed_by=other,
        )  # fmt: skip
        redriven = application(f"CLI-SIG-REDRIVE-{TOK}")
        forged_redrive = [
            *headers_for(),
            ("redriven_from", b"min.application.submitted.v1.dlq/0/0"),
            ("redriven_by", b"op-cli-test"),
            ("redriven_at", b"2026-12-05T10:00:00+00:00"),
        ]
        await producer.send(
            Topics.APPLICATION_SUBMITTED.name,
            redriven,
            key=redriven["application_id"],
            headers=forged_redrive,
        )

    ids = {f"SIG-{k}-{TOK}" for k in ("none", "other", "altered")}
    events = await read_all(
        Topics.ACCOUNT_EVENT.name,
        until=lambda rs: ids <= {r.body.get("command_id") for r in rs},
    )
    codes = {
        r.body["command_id"]: r.body["reason_code"]
        for r in events
        if r.body.get("command_id") in ids
    }
    assert codes == {
        f"SIG-none-{TOK}": "OPERATOR_NOT_PROVEN",
        f"SIG-other-{TOK}": "OPERATOR_MISMATCH",
        f"SIG-altered-{TOK}": "OPERATOR_SIGNATURE_INVALID",
    }
    assert re.search(r"status\W+active", cli_ok(cli("tenant", "show", tenant, env=stack)))

    refused = await read_all(
        Topics.REVIEW_DECISION_REJECTED.name,
        until=lambda rs: any(r.key == decision["application_id"] for r in rs),
    )
    assert [r.body["reason_code"] for r in refused if r.key == decision["application_id"]] == [
        "OPERATOR_MISMATCH"
    ]
    dead = await read_all(
        Topics.APPLICATION_SUBMITTED.dlq,
        until=lambda rs: any(r.key == redriven["application_id"] for r in rs),
    )
    [letter] = [r for r in dead if r.key == redriven["application_id"]]
    assert letter.headers["dlq_error_type"] == "UnprovenCommand"
    assert "OPERATOR_NOT_PROVEN" in letter.headers["dlq_error"]


async def test_training_requests_are_collected_and_listed_for_the_verfahrensbetreuung(
    stack: dict[str, str],
) -> None:
    """The seed: tenants ask for trainings; provisioning records an administrator's request, and
    `meldespiegel training list` lists it."""
    app = complete_application(f"CLI-SCH-{TOK}")
    provisioned = await provisioned_by_approval(app)
    request_id = f"SCH-{TOK}"
    async with RawProducer() as producer:
        await publish(
            producer,
            Topics.TENANT_TRAINING_REQUESTED.name,
            {
                "request_id": request_id,
                "tenant_id": provisioned["tenant_id"],
                "requested_by": provisioned["administrator_user_id"],
                "teilnehmende": 8,
                "wunsch": "Freie Suche und Protokollauswertung, online, Februar",
                "requested_at": datetime.now(UTC).isoformat(),
            },
            provisioned["tenant_id"],
        )

    def listed() -> dict[str, Any] | None:
        wishes = json.loads(cli_ok(cli("training", "list", "-o", "json", env=stack)))
        return next((w for w in wishes if w["request_id"] == request_id), None)

    wish = await eventually(listed, "the training request in the list", seconds=60)
    assert (wish["tenant_id"], wish["participants"]) == (provisioned["tenant_id"], 8)
    assert wish["requested_by"] == provisioned["administrator_username"]
    assert "Freie Suche" in cli_ok(cli("training", "list", env=stack))


async def test_an_evaluation_alert_becomes_a_case_through_to_a_restricted_tenant(
    stack: dict[str, str], smtp: SmtpServer
) -> None:
    """§ 40 Abs. 5 Satz 3 BMG: the log's evaluation raises an alert; the data-protection team
    takes the case on, asks the authority (an S/MIME mail from the template), restricts the
    tenant until it answers, and closes the case; each step is an event."""
    app = complete_application(
        f"CLI-FALL-{TOK}", **{"administrator.email": f"fall-{TOK.lower()}@behoerde.example"}
    )
    provisioned = await provisioned_by_approval(app)
    tenant = provisioned["tenant_id"]
    alert_id = str(uuid.uuid4())
    async with RawProducer() as producer:
        await publish(
            producer,
            Topics.PROTOCOL_ALERTS.name,
            {
                "alert_id": alert_id, "rule": "night_burst", "tenant_id": tenant,
                "user_ref": "5c1e2a9b8d7f6e5a4b3c2d1e", "observed": 40, "threshold": 25,
                "window": "22-06 Uhr", "raised_at": datetime.now(UTC).isoformat(),
                "text": "Eine Kennung hat nachts 40 Abrufe gestellt (Schwelle 25).",
            },
            tenant,
        )  # fmt: skip

    def listed() -> dict[str, Any] | None:
        shown = json.loads(cli_ok(cli("case", "list", "-o", "json", env=stack)))
        return next((c for c in shown if c["case_id"] == alert_id), None)

    case = await eventually(listed, "the case of the alert", seconds=60)
    assert (case["status"], case["authority"]) == ("open", app.authority_name)
    assert "acknowledged (acknowledge)" in cli_ok(
        cli("case", "ack", alert_id, "--text", "Übernommen.", env=stack)
    )
    cli_ok(cli("case", "contact", alert_id, "--text", "Bitte nennen Sie den Anlass.", env=stack))

    def asked() -> list[Any]:
        # the approval's notice and account mail went to the same address before
        return [m for m in smtp.to(app.administrator.email) if "Stellungnahme" in m.subject]

    [mail] = await eventually(asked, "the mail to the authority", seconds=60)
    text = verified_text(mail.raw, PKI / CA_CERT)
    assert "Bitte nennen Sie den Anlass." in text
    assert "Eine Kennung hat nachts 40 Abrufe gestellt" in text
    assert alert_id in text
    restricted = cli_ok(
        cli("case", "restrict", alert_id, "--text", "Bis zur Stellungnahme.", env=stack)
    )
    assert f"{tenant}: tenant_restricted" in restricted
    assert re.search(r"status\W+restricted", cli_ok(cli("tenant", "show", tenant, env=stack)))
    cli_ok(cli("case", "close", alert_id, "--text", "Stellungnahme plausibel.", env=stack))
    assert alert_id not in cli_ok(cli("case", "list", env=stack))
    [closed] = [
        c
        for c in json.loads(cli_ok(cli("case", "list", "--all", "-o", "json", env=stack)))
        if c["case_id"] == alert_id
    ]
    assert closed["status"] == "closed"
    assert closed["steps"] == [
        "acknowledge (op-cli-test)",
        "contact (op-cli-test)",
        "restrict (op-cli-test)",
        "close (op-cli-test)",
    ]
