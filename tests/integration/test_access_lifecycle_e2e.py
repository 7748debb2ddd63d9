"""The whole access lifecycle with every service as its own process, a real SMTP server and the
HTTP API: from the submitted application to the first login. Then the initial password is looked
for everywhere it must not be: on every topic, in every log line, in every database column."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from shared.contract.topics import Topics
from shared.platform.kafka_admin import wanted_topics
from shared.platform.pki import CA_CERT, CA_KEY, issue_smime
from shared.platform.settings import get_settings
from tests.helpers import (
    AUTOMATIC_DECISIONS,
    RawProducer,
    ServiceProcess,
    application,
    eventually,
    read_all,
    read_to_end,
    skip_backlog,
)
from tests.smtp import SmtpServer, decrypted, free_port, verified_text
from tools.contract import OPENAPI

pytestmark = pytest.mark.integration
PKI = get_settings().pki_dir
SERVICES = ("intake", "legal_review", "provisioning", "mail_dispatch")
PASSWORD_LINE = re.compile(r"^([A-HJ-NP-Za-km-z2-9]{16})$", re.MULTILINE)


@pytest.fixture(scope="module")
def stack(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    smtp = SmtpServer().start()
    spool = tmp_path_factory.mktemp("spool")
    http_port = free_port()
    env = {
        "MELDESPIEGEL_SMTP_PORT": str(smtp.port),
        "MELDESPIEGEL_PRINT_SPOOL_DIR": str(spool),
        "MELDESPIEGEL_HTTP_PORT": str(http_port),
        "MELDESPIEGEL_LOG_LEVEL": "DEBUG",
        **AUTOMATIC_DECISIONS,  # the subject here is the way from approval to sign-in
    }
    skip_backlog(*SERVICES)
    procs = [
        ServiceProcess(f"services.{name}", artifacts / f"e2e-{name}.log", env).start()
        for name in SERVICES
    ]
    yield {"smtp": smtp, "spool": spool, "api": f"http://127.0.0.1:{http_port}", "procs": procs}
    codes = {p.module: p.stop() for p in procs}
    smtp.stop()
    assert set(codes.values()) == {0}, codes


async def test_from_application_to_first_login_and_no_password_anywhere(
    stack: dict, tmp_path: Path, db: asyncpg.Connection
) -> None:
    cert, key = issue_smime(
        (PKI / CA_CERT).read_bytes(),
        (PKI / CA_KEY).read_bytes(),
        "e2e-admin@example.org",
        "Jördis Weißmüller",
    )
    (tmp_path / "admin.pem").write_bytes(cert)
    (tmp_path / "admin.key").write_bytes(key)
    body = application(
        **{
            "administrator.email": "e2e-admin@example.org",
            "administrator.smime_certificate_pem": cert.decode(),
        }
    )
    async with RawProducer() as producer:
        await producer.send(Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"])

    smtp: SmtpServer = stack["smtp"]

    def notices() -> list | None:
        mails = smtp.to("e2e-admin@example.org")
        subjects = " ".join(m.subject for m in mails)
        wanted = ("eingegangen", "bewilligt", "Account")
        return mails if all(w in subjects for w in wanted) else None

    mails = await eventually(notices, "receipt, approval notice and account mail")
    texts = {}
    for mail in mails:
        assert mail.encrypted  # a certificate is on file: everything to this address is encrypted
        texts[mail.subject] = verified_text(
            decrypted(mail.raw, tmp_path / "admin.pem", tmp_path / "admin.key"), PKI / CA_CERT
        )
    [account_text] = [t for s, t in texts.items() if "Account" in s]
    username = re.search(r"Ihr Accountname: (\S+)", account_text).group(1)
    assert any("Zugang ist rechtlich zulässig: Ja." in t for t in texts.values())
    # the authority hears of each step: the receipt too (with the decision signed at once here,
    # the two mails may arrive in either order: mail_dispatch follows both topics)
    [receipt] = [t for s, t in texts.items() if s.endswith(": eingegangen")]
    assert "vollständig eingegangen und wird rechtlich geprüft" in receipt

    # the letter does not name the account; the credentials event for it names the letter file
    issued = await read_all(
        Topics.ACCOUNT_CREDENTIALS.name,
        until=lambda rs: any(r.json()["username"] == username for r in rs),
    )
    [event_id] = [r.headers["ce_id"] for r in issued if r.json()["username"] == username]
    letter_path = stack["spool"] / f"{event_id}.password_letter.pdf"
    await eventually(letter_path.exists, "password letter in the print spool")
    letter = "\n".join(p.extract_text() for p in PdfReader(letter_path).pages)
    password = PASSWORD_LINE.search(letter).group(1)
    assert username not in letter  # the account name goes by e-mail, the password by post

    async with httpx.AsyncClient(base_url=stack["api"]) as api:
        first = await api.post("/auth/login", json={"username": username, "password": password})
        assert (first.status_code, first.json()["outcome"]) == (200, "password_change_required")
        new = "Erste-Anmeldung-2026!"
        changed = await api.post(
            "/auth/password",
            json={"username": username, "current_password": password, "new_password": new},
        )
        assert changed.json()["outcome"] == "password_changed"
        again = await api.post("/auth/login", json={"username": username, "password": new})
        assert again.json()["outcome"] == "authenticated"
        old = await api.post("/auth/login", json={"username": username, "password": password})
        assert old.status_code == 401
        served = await api.get("/openapi.json")  # the API describes itself, as committed
        assert served.json() == json.loads(OPENAPI.joinpath("authentication.json").read_text())

    dispatched = await read_all(Topics.MAIL_DISPATCHED.name, until=lambda rs: len(rs) >= 4)
    assert {r.json()["kind"] for r in dispatched} >= {
        "receipt_notice",
        "approval_notice",
        "account_mail",
        "password_letter",
    }

    # the initial password: on no topic, in no log line, in no database column
    secret = password.encode()
    for topic in wanted_topics():
        for record in await read_to_end(topic.name):
            assert secret not in record.value, topic.name
            assert all(password not in v for v in record.headers.values()), topic.name
    for proc in stack["procs"]:
        assert password not in proc.log_text(), proc.module
    tables = await db.fetch(
        """SELECT table_schema, table_name FROM information_schema.tables
           WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'""",
        list(SERVICES),
    )
    assert len(tables) >= 10
    for t in tables:
        columns = await db.fetch(
            """SELECT column_name, data_type FROM information_schema.columns
               WHERE table_schema = $1 AND table_name = $2""",
            t["table_schema"],
            t["table_name"],
        )
        for c in columns:
            column = f'{t["table_schema"]}.{t["table_name"]}."{c["column_name"]}"'
            if c["data_type"] == "bytea":
                found = await db.fetchval(
                    f"SELECT count(*) FROM {t['table_schema']}.{t['table_name']} "
                    f'WHERE position($1::bytea in "{c["column_name"]}") > 0',
                    secret,
                )
            else:
                found = await db.fetchval(
                    f"SELECT count(*) FROM {t['table_schema']}.{t['table_name']} "
                    f'WHERE "{c["column_name"]}"::text LIKE $1',
                    f"%{password}%",
                )
            assert found == 0, column


async def test_another_states_central_body_registers_and_becomes_the_tenant_land_nn(
    stack: dict,
) -> None:
    """§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1: the central body of Bayern applies, is approved
    and becomes the tenant "Land 09"; one that names this state is refused."""
    bavaria = application(**{"authority.kind": "zentrale_stelle_land", "authority.state": "09"})
    own = application(**{"authority.kind": "zentrale_stelle_land", "authority.state": "03"})
    async with RawProducer() as producer:
        for body in (bavaria, own):
            await producer.send(Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"])
    ids = {bavaria["application_id"], own["application_id"]}
    decided = await read_all(
        Topics.REVIEW_DECIDED.name,
        until=lambda rs: ids <= {r.json().get("application_id") for r in rs if r.readable},
    )
    outcome = {r.json()["application_id"]: r.json() for r in decided if r.readable and r.key in ids}
    approved = outcome[bavaria["application_id"]]
    assert approved["decision"] == "approved"
    assert [r["code"] for r in approved["reasons"]] == ["CENTRAL_BODY_OF_ANOTHER_STATE"]
    assert approved["data_scope"] == "bmg_34_1_satz_1_und_2"
    refused = outcome[own["application_id"]]
    assert refused["decision"] == "rejected"
    assert [r["code"] for r in refused["reasons"]] == ["CENTRAL_BODY_OF_OWN_STATE"]

    def land_09(records: list) -> list:
        return [
            r.json()
            for r in records
            if r.readable and r.json().get("authority_name") == bavaria["authority"]["name"]
        ]

    [tenant] = land_09(await read_all(Topics.TENANT_STATE.name, until=lambda rs: bool(land_09(rs))))
    assert (tenant["authority_kind"], tenant["land"], tenant["role"]) == (
        "zentrale_stelle_land",
        "09",
        "einfache_behoerdenauskunft",
    )
