"""`meldespiegel`: the operators' command line against the local stack or any configured cluster.

It works through the same doors as everyone else: it publishes commands and events to the
catalogue's topics, reads topics, and reads the protocol log through its read API as the account
signed in with `meldespiegel login` (the access token names who reads; nothing else does).
Connection settings come from the environment (`MELDESPIEGEL_KAFKA_BOOTSTRAP`,
`MELDESPIEGEL_AUTH_API_URL`, `MELDESPIEGEL_PROTOCOL_API_URL`, `MELDESPIEGEL_PKI_DIR`), as
`deploy/local/stack.sh env` prints them.

Exit status: 0 done, 1 the system refused or did not answer, 2 unusable input.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, Field, ValidationError
from rich.console import Console
from rich.json import JSON
from rich.progress import Progress
from rich.table import Table

from operator_cli import domain
from operator_cli.apis import (
    AccountsApi,
    AuthApi,
    ProtocolApi,
    Session,
    SessionFile,
    session_of,
)
from operator_cli.domain import Abort, InputError, NoAnswer, Record, Ref
from operator_cli.kafka import Kafka, new_id
from operator_cli.listing import Column, Output, OutputOption, show, show_one, write_json
from shared.contract.deadletter import DeadLetter
from shared.contract.events.abruf import QueryRequested
from shared.contract.events.account import AccountCommand, CommandAction
from shared.contract.events.betrieb import Redriven
from shared.contract.events.cases import CaseCommand
from shared.contract.events.manuell import OfficeCommand
from shared.contract.events.portal import (
    RegistrationDecision,
    RequesterAction,
    RequesterCommand,
    StatementRequested,
)
from shared.contract.events.protocol import Zweck
from shared.contract.events.review import ManualDecision
from shared.contract.topics import CATALOGUE, DLQ_SUFFIX, Topics, TopicSpec
from shared.platform.broker import schema_violations
from shared.platform.kafka_client import Follower
from shared.platform.kafka_security import client_options
from shared.platform.operator_signatures import OperatorKey
from shared.platform.pki import ANSWER_KEY, load_operator_key
from shared.platform.sealed import load_private_key, open_sealed
from shared.platform.settings import Settings

T = TypeVar("T")
# piped output (grep, files) is not cut to 80 columns
out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 240)


class CliSettings(Settings):
    auth_api_url: str = Field(
        "http://127.0.0.1:8081", description="the authentication API, for `meldespiegel login`"
    )
    protocol_api_url: str = Field(
        "http://127.0.0.1:8083", description="protocol_log's read API, for `meldespiegel log`"
    )
    session_file: Path = Field(
        Path.home() / ".config" / "meldespiegel" / "session.json",
        description="where `meldespiegel login` keeps the signed-in session (mode 0600)",
    )
    operator: str = Field("", description="the operator id recorded with decisions and redrives")


class CliContext:
    def __init__(
        self,
        bootstrap: str | None,
        operator: str | None,
        timeout_s: float = 10.0,
        command_config: Path | None = None,
    ) -> None:
        properties = {}
        if command_config is not None:
            try:
                text = command_config.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"--command-config: {exc.strerror}: {command_config}") from None
            properties = domain.client_properties(text)
        try:
            self.settings = CliSettings(**properties)
        except ValidationError as exc:
            raise InputError(f"--command-config: {schema_violations(exc)}") from None
        self.bootstrap = bootstrap or self.settings.kafka_bootstrap
        self.operator = operator or self.settings.operator or getpass.getuser()
        self.timeout_s = timeout_s

    def kafka(self) -> Kafka:
        try:
            options = client_options(self.settings)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return Kafka(
            self.bootstrap,
            self.operator_key,
            timeout_s=self.timeout_s,
            connecting=err.status,
            **options,
        )

    def operator_key(self) -> OperatorKey:
        """The operator's signing key and certificate (`$MELDESPIEGEL_PKI_DIR/operators/`): every
        command the CLI publishes is signed with it, and the services refuse unsigned ones."""
        try:
            key = load_operator_key(self.settings.pki_dir, self.operator)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(
                f"no signing key for operator {self.operator!r} ({exc}); the operator CA issues "
                f"one: python -m shared.platform.pki operator {self.settings.pki_dir} "
                f"{self.operator} betrieb"
            ) from None
        if key.operator_id != self.operator:
            raise InputError(
                f"the certificate names {key.operator_id!r}, not the operator {self.operator!r}"
            )
        return key

    def session(self) -> Session:
        return Session(SessionFile(self.settings.session_file), AuthApi(self.settings.auth_api_url))

    def protocol(self) -> ProtocolApi:
        return ProtocolApi(self.settings.protocol_api_url, self.session())


app = typer.Typer(
    name="meldespiegel",
    help="Operate the Melderegisterdatenspiegel: applications, reviews, tenants, queries, "
    "the protocol log, dead letters and topics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
case_app = typer.Typer(
    help="The data-protection team's cases, opened by evaluation alerts.", no_args_is_help=True
)
office_app = typer.Typer(
    help="The registration offices' worklists: retrievals handed over for manual processing "
    "(§ 34a Abs. 5 BMG), decided by the office's clerks.",
    no_args_is_help=True,
)
training_app = typer.Typer(
    help="Tenants' training requests, for the Verfahrensbetreuung.", no_args_is_help=True
)
review_app = typer.Typer(
    help="Legal reviews waiting for an operator's signature.", no_args_is_help=True
)
tenant_app = typer.Typer(
    help="Tenants (authorities with access) and their users.", no_args_is_help=True
)
log_app = typer.Typer(
    help="The § 40 BMG protocol log (through its read API).", no_args_is_help=True
)
dlq_app = typer.Typer(help="Dead letters: list, show, redrive.", no_args_is_help=True)
portal_app = typer.Typer(
    help="The portal: registration decisions and fee statements.", no_args_is_help=True
)
app.add_typer(review_app, name="review")
app.add_typer(training_app, name="training")
app.add_typer(case_app, name="case")
app.add_typer(office_app, name="office")
app.add_typer(tenant_app, name="tenant")
app.add_typer(log_app, name="log")
app.add_typer(dlq_app, name="dlq")
app.add_typer(portal_app, name="portal")


def _version(asked: bool) -> None:
    if asked:
        out.print(f"meldespiegel {metadata.version('meldespiegel')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers [env MELDESPIEGEL_KAFKA_BOOTSTRAP]")
    ] = None,
    operator: Annotated[
        str | None, typer.Option(help="your operator id [env MELDESPIEGEL_OPERATOR, login name]")
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, help="seconds to wait for the Kafka cluster to answer at all"),
    ] = 10.0,
    command_config: Annotated[
        Path | None,
        typer.Option(
            help="client properties file, as Kafka's own tools take: bootstrap.servers, "
            "security.protocol, sasl.mechanism, sasl.jaas.config or sasl.username and "
            "sasl.password, ssl.ca.location (over the MELDESPIEGEL_KAFKA_* environment)"
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    ctx.obj = CliContext(bootstrap, operator, timeout, command_config)


def _run(ctx: typer.Context, work: Callable[[CliContext], Awaitable[T]]) -> T:
    return asyncio.run(work(ctx.obj))


def _error_type(dead: Record) -> str | None:
    letter = DeadLetter.of(dead.headers)
    return letter.error_type if letter else None


def _time(at: datetime | str | None) -> str:
    if at is None:
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


# -- applications ---------------------------------------------------------------------------

APPLICATION_TOPICS = (
    Topics.APPLICATION_SUBMITTED,
    Topics.APPLICATION_ACCEPTED,
    Topics.APPLICATION_INCOMPLETE,
    Topics.APPLICATION_REFUSED,
    Topics.REVIEW_PENDING_MANUAL,
    Topics.REVIEW_MANUAL_DECISION,
    Topics.REVIEW_DECISION_REJECTED,
    Topics.REVIEW_LOGGING_COMMISSIONED,
    Topics.REVIEW_OVERDUE,
    Topics.REVIEW_DECIDED,
    Topics.ACCOUNT_PROVISIONING_REFUSED,
)
MAIL_TOPICS = (Topics.MAIL_DISPATCHED, Topics.MAIL_FAILED)


def _print_step(step: domain.Step) -> None:
    style = "red" if step.fehler else "green" if "approved" in step.was else ""
    out.print(
        f"{_time(step.at)}  [{style}]{step.was}[/]" if style else f"{_time(step.at)}  {step.was}"
    )


async def _timeline(kafka: Kafka, application_id: str) -> list[Record]:
    """An application's events in three reads: its own topics (and the provisioned tenants), the
    tenants' credentials, then the mails any of these caused."""
    found = await kafka.read_keys(
        [
            *((spec, application_id) for spec in APPLICATION_TOPICS),
            (Topics.APPLICATION_SUBMITTED.dlq, application_id),
        ],
        # upstream systems submit with any partitioner (kcat's default is CRC32, not murmur2)
        any_partition={Topics.APPLICATION_SUBMITTED},
    )
    provisioned = [
        s
        for s in await kafka.read(Topics.ACCOUNT_PROVISIONED.name)
        if s.body.get("application_id") == application_id
    ]
    found += provisioned
    first = min((s.at for s in provisioned), default=None)
    tenants = {t for s in provisioned if isinstance(t := s.body.get("tenant_id"), str)}
    credentials = await kafka.read_keys((Topics.ACCOUNT_CREDENTIALS, t) for t in tenants)
    found += [c for c in credentials if first is None or c.at >= first]
    sources = {s.headers["ce_id"] for s in found if s.headers.get("ce_id")}
    found += await kafka.read_keys((spec, source) for spec in MAIL_TOPICS for source in sources)
    return found


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the application, JSON or YAML")],
    follow: Annotated[bool, typer.Option(help="follow it through intake, review, mail")] = True,
    wait: Annotated[float, typer.Option(help="seconds to follow at most")] = 120.0,
    settle: Annotated[float, typer.Option(help="quiet seconds after the outcome")] = 5.0,
) -> None:
    """Publish an access application and follow it: accepted or incomplete, the decision, the
    tenant, the mails."""
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    body = domain.load_application(file, file.read_text(encoding="utf-8"))

    async def work(k: CliContext) -> None:
        async with k.kafka() as kafka:
            if not follow:
                env = await kafka.publish_event(Topics.APPLICATION_SUBMITTED, body)
                out.print(f"submitted {body['application_id']} (event {env.id})")
                return
            follower = await kafka.follow(
                *(s.name for s in APPLICATION_TOPICS if s is not Topics.APPLICATION_SUBMITTED),
                Topics.ACCOUNT_PROVISIONED.name,
                Topics.ACCOUNT_CREDENTIALS.name,
                *(s.name for s in MAIL_TOPICS),
                Topics.APPLICATION_SUBMITTED.dlq,
            )
            try:
                env = await kafka.publish_event(Topics.APPLICATION_SUBMITTED, body)
                out.print(f"submitted {body['application_id']} (event {env.id})")
                await _follow_application(follower, body["application_id"], wait, settle)
            finally:
                await follower.close()

    _run(ctx, work)


async def _follow_application(
    follower: Follower, application_id: str, wait: float, settle: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    mine: list[Record] = []
    ids: set[str] = set()
    tenants: set[str] = set()
    quiet_since: float | None = None
    with err.status(f"following {application_id} …"):
        while loop.time() < deadline:
            for s in await follower.next(1.0):
                b = s.body
                belongs = (
                    domain.application_of(s) == application_id
                    or (
                        s.topic == Topics.ACCOUNT_CREDENTIALS.name and b.get("tenant_id") in tenants
                    )
                    or (
                        s.topic in {t.name for t in MAIL_TOPICS} and b.get("source_event_id") in ids
                    )
                )
                if not belongs:
                    continue
                mine.append(s)
                ids.add(s.headers.get("ce_id", ""))
                if s.topic == Topics.ACCOUNT_PROVISIONED.name:
                    tenants.add(b.get("tenant_id", ""))
                for step in domain.zeitleiste([s]):
                    _print_step(step)
                quiet_since = loop.time()
            settled = quiet_since is not None and loop.time() - quiet_since >= settle
            if settled and domain.abgeschlossen(mine):
                break
    out.print(f"[bold]{application_id}: {domain.stand(mine)}[/]")
    if not mine:
        raise NoAnswer(
            f"nothing came back for {application_id} within {wait:g} s: is intake running?"
        )


@app.command("status")
def status(
    ctx: typer.Context,
    application_id: Annotated[str, typer.Argument(help="the application id")],
    output: OutputOption = Output.TABLE,
) -> None:
    """Print an application's timeline from the retained topics."""

    async def work(k: CliContext) -> list[Record]:
        async with k.kafka() as kafka:
            with err.status(f"reading the topics for {application_id} …"):
                return await _timeline(kafka, application_id)

    found = _run(ctx, work)
    if not found:
        raise Abort(f"no event of application {application_id} on the retained topics")
    steps = domain.zeitleiste(found)
    if output is Output.JSON:
        timeline = [
            {"at": step.at, "topic": step.topic, "what": step.was, "failed": step.fehler}
            for step in steps
        ]
        write_json(
            {"application_id": application_id, "state": domain.stand(found), "timeline": timeline}
        )
        return
    for step in steps:
        _print_step(step)
    out.print(f"[bold]{application_id}: {domain.stand(found)}[/]")


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="closed cases too")] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """The data-protection team's cases (opened by evaluation alerts), oldest first."""

    async def work(k: CliContext) -> list[domain.Fall]:
        async with k.kafka() as kafka:
            with err.status("reading the cases …"):
                return domain.faelle(await kafka.read(Topics.CASE_STATE.name))

    cases = [dataclasses.asdict(c) for c in _run(ctx, work) if all_ or c.status != "closed"]
    show(
        out,
        output,
        [
            Column("case_id", "case"),
            Column("opened_at", "opened", _time),
            Column("authority", "authority"),
            Column("rule", "rule"),
            Column("status", "status"),
            Column("steps", "steps", ", ".join),
            Column("alert", "alert"),
        ],
        cases,
        f"{len(cases)} cases",
    )


def _case_step(
    ctx: typer.Context, case_id: str, action: str, text: str, wait: float, **fields: Any
) -> None:
    """Sends a signed step and prints the case as it then stands, or why it was not taken."""
    if not text.strip():
        raise InputError("--text is required: every step is given with its reason")
    command = CaseCommand(
        command_id=new_id("CASE"),
        case_id=case_id,
        operator_id=ctx.obj.operator,
        action=action,
        text=text,
        **fields,
    )
    spec = (Topics.CASE_COMMAND, Topics.CASE_STATE, Topics.CASE_COMMAND_REJECTED)
    answer = _case_command(ctx, *spec, command, case_id, "alert_cases", wait)
    out.print(f"{case_id}: {answer.body['status']} ({action})")


def _case_command(
    ctx: typer.Context,
    topic: TopicSpec,
    state: TopicSpec,
    rejected: TopicSpec,
    command: BaseModel,
    case_id: str,
    service: str,
    wait: float,
) -> Record:
    """Sends a signed command about a case and returns the case as the service then publishes
    it; a refusal aborts with its reason."""

    async def work(k: CliContext) -> Record:
        async with k.kafka() as kafka:
            with err.status(f"waiting for {service} …"):
                answer = await kafka.ask(
                    topic,
                    command,
                    [state.name, rejected.name],
                    lambda s: s.body.get("case_id") == case_id,
                    wait,
                )
        if answer is None:
            raise NoAnswer(f"{service} did not answer within {wait:g} s")
        return answer

    answer = _run(ctx, work)
    if answer.topic == rejected.name:
        raise Abort(f"refused: {answer.body.get('reason_code')}: {answer.body.get('message')}")
    return answer


@office_app.command("list")
def office_list(
    ctx: typer.Context,
    ags: Annotated[str | None, typer.Argument(help="one office's Gemeindeschlüssel")] = None,
    all_: Annotated[bool, typer.Option("--all", help="decided cases too")] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """The worklists' cases, oldest first: what waits for a clerk's decision."""

    async def work(k: CliContext) -> list[domain.Bearbeitung]:
        async with k.kafka() as kafka:
            with err.status("reading the worklists …"):
                return domain.bearbeitungen(await kafka.read(Topics.OFFICE_CASE.name), ags)

    cases = [dataclasses.asdict(c) for c in _run(ctx, work) if all_ or c.status == "open"]
    show(
        out,
        output,
        [
            Column("case_id", "case"),
            Column("opened_at", "opened", _time),
            Column("gemeindeschluessel", "office"),
            Column("grund", "reason"),
            Column("anfragende_behoerde", "requester"),
            Column("aktenzeichen", "file"),
            Column("status", "status"),
            Column("overdue", "overdue", lambda v: "overdue" if v else ""),
            Column("antwort", "answer"),
        ],
        cases,
        f"{len(cases)} cases",
    )


@office_app.command("notices")
def office_notices(
    ctx: typer.Context,
    ags: Annotated[str | None, typer.Argument(help="one office's Gemeindeschlüssel")] = None,
    missing: Annotated[
        bool, typer.Option("--missing", help="only those without a letter: to send by hand")
    ] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """The notices of requests on blocked persons (§ 51 Abs. 3, § 34 Abs. 5 BMG), oldest first,
    and whether their letter went out."""

    async def work(k: CliContext) -> list[domain.Mitteilung]:
        async with k.kafka() as kafka:
            with err.status("reading the notices …"):
                notices = await kafka.read(Topics.REGISTER_BLOCK_NOTICE.name)
                letters = await kafka.read(Topics.OFFICE_NOTICE_LETTER.name)
        return domain.mitteilungen(notices, letters, ags)

    rows = [dataclasses.asdict(n) for n in _run(ctx, work) if not (missing and n.letter)]
    show(
        out,
        output,
        [
            Column("noticed_at", "noticed", _time),
            Column("vorgangsnummer", "Vorgang"),
            Column("gemeindeschluessel", "office"),
            Column("empfaenger", "to"),
            Column("anfragende_behoerde", "requester"),
            Column("letter", "letter", lambda v: "sent" if v else "by hand"),
        ],
        rows,
        f"{len(rows)} notices",
    )


def _office_decision(ctx: typer.Context, case_id: str, action: str, text: str, wait: float) -> None:
    """Sends the clerk's signed decision and prints the case as it then stands, or why not."""
    if not text.strip():
        raise InputError("--text is required: the result of the individual check")
    command = OfficeCommand(
        command_id=new_id("OFFICE"),
        case_id=case_id,
        operator_id=ctx.obj.operator,
        action=action,
        text=text,
    )
    spec = (Topics.OFFICE_COMMAND, Topics.OFFICE_CASE, Topics.OFFICE_COMMAND_REJECTED)
    answer = _case_command(ctx, *spec, command, case_id, "office_worklist", wait)
    nummer = answer.body.get("antwort_vorgangsnummer")
    out.print(f"{case_id}: {answer.body['status']}" + (f", answer {nummer}" if nummer else ""))


OfficeText = Annotated[str, typer.Option("--text", help="the result of the individual check")]


@office_app.command("answer")
def office_answer(
    ctx: typer.Context, case_id: str, text: OfficeText = "", wait: float = 60.0
) -> None:
    """Answer the requester: the person was heard and a danger is excluded (§ 51 Abs. 2 BMG)."""
    _office_decision(ctx, case_id, "answer", text, wait)


@office_app.command("refuse")
def office_refuse(
    ctx: typer.Context, case_id: str, text: OfficeText = "", wait: float = 60.0
) -> None:
    """Refuse: a danger cannot be excluded; nothing goes to the requester (§ 51 Abs. 2 BMG)."""
    _office_decision(ctx, case_id, "refuse", text, wait)


CaseText = Annotated[str, typer.Option("--text", help="the reason (for contact: the request)")]


@case_app.command("ack")
def case_ack(ctx: typer.Context, case_id: str, text: CaseText = "", wait: float = 60.0) -> None:
    """Take a case on."""
    _case_step(ctx, case_id, "acknowledge", text, wait)


@case_app.command("contact")
def case_contact(ctx: typer.Context, case_id: str, text: CaseText = "", wait: float = 60.0) -> None:
    """Ask the authority for a statement: an S/MIME mail to its administrator, from the template
    with your text."""
    _case_step(ctx, case_id, "contact", text, wait)


@case_app.command("restrict")
def case_restrict(
    ctx: typer.Context, case_id: str, text: CaseText = "", wait: float = 60.0
) -> None:
    """Restrict the case's tenant (a signed account command to provisioning) and record it."""
    if not text.strip():
        raise InputError("--text is required: the authority is told why")

    async def tenant_of(k: CliContext) -> str:
        async with k.kafka() as kafka:
            found = [
                c for c in domain.faelle(await kafka.read(Topics.CASE_STATE.name))
                if c.case_id == case_id
            ]  # fmt: skip
        if not found:
            raise InputError(f"no case {case_id}")
        return found[0].tenant_id

    tenant_id = _run(ctx, tenant_of)
    event = _run(ctx, lambda k: _command(k, tenant_id, "restrict_tenant", text, wait))
    if event["kind"] == "command_rejected":
        raise Abort(f"refused: {event.get('reason_code')}: {event.get('message')}")
    out.print(f"{tenant_id}: {event['kind']}")
    _case_step(ctx, case_id, "restrict", text, wait, account_command_id=event["command_id"])


@case_app.command("close")
def case_close(ctx: typer.Context, case_id: str, text: CaseText = "", wait: float = 60.0) -> None:
    """Close a case, with the reason."""
    _case_step(ctx, case_id, "close", text, wait)


@training_app.command("list")
def training_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Tenants' training requests, as provisioning recorded them, oldest first."""

    async def work(k: CliContext) -> list[domain.Schulungswunsch]:
        async with k.kafka() as kafka:
            with err.status("reading the training requests …"):
                return domain.schulungswuensche(
                    await kafka.read(Topics.TENANT_TRAINING_RECORDED.name)
                )

    wishes = _run(ctx, work)
    show(
        out,
        output,
        [
            Column("requested_at", "requested", _time),
            Column("authority", "authority"),
            Column("tenant_id", "tenant"),
            Column("requested_by", "by"),
            Column("participants", "participants", str),
            Column("wish", "wish"),
            Column("request_id", "request"),
        ],
        (dataclasses.asdict(w) for w in wishes),
        f"{len(wishes)} training requests",
    )


ATTENTION = ("rejected", "alert")


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    gemeindeschluessel: Annotated[str, typer.Argument(help="the office's AGS (8 digits)")],
    output: OutputOption = Output.TABLE,
) -> None:
    """A registration office's deliveries as the register logged them (NMeldVO 2022 § 23 Abs. 3)
    and the alerts about them (nothing within the day, refused, far fewer persons)."""
    if not (len(gemeindeschluessel) == 8 and gemeindeschluessel.isdigit()):
        raise InputError("the Gemeindeschlüssel has 8 digits, e.g. 03241001")

    async def work(k: CliContext) -> list[domain.Lieferzeile]:
        async with k.kafka() as kafka:
            with err.status(f"reading the delivery log of {gemeindeschluessel} …"):
                found = await kafka.read_keys(
                    [
                        (Topics.REGISTER_DELIVERY_LOG, gemeindeschluessel),
                        (Topics.REGISTER_DELIVERY_ALERTS, gemeindeschluessel),
                    ]
                )
        return domain.lieferprotokoll(found)

    rows = _run(ctx, work)
    show(
        out,
        output,
        [
            Column("at", "received", _time),
            Column("what", "delivery"),
            Column("records", "records", lambda n: "" if n is None else str(n)),
            Column("removed", "removed", lambda n: "" if n is None else str(n)),
            Column(
                "status", "status", lambda x: f"[red]{x}[/]" if x in ("rejected", "alert") else x
            ),
            Column("detail", "reason / delivery id"),
        ],
        (dataclasses.asdict(r) for r in rows),
        f"{len(rows)} entries for {gemeindeschluessel}",
    )


# -- reviews ----------------------------------------------------------------------------------


@review_app.command("list")
def review_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Cases waiting for a signature (recommendations, open cases, countersignatures), oldest
    first."""

    async def work(k: CliContext) -> list[domain.OffenePruefung]:
        async with k.kafka() as kafka:
            with err.status("reading the review topics …"):
                return await _waiting_cases(kafka)

    cases = _run(ctx, work)
    show(
        out,
        output,
        [
            Column("application_id", "application"),
            Column("authority_name", "authority"),
            Column("recommendation", "recommended", lambda r: r or "–"),
            Column("needed", "reasons / to establish", ", ".join),
            Column("signatures", "signed by", ", ".join),
            Column("pending_since", "pending since", _time),
            Column("overdue", "overdue", lambda o: f"[red]{o}[/]" if o else ""),
        ],
        (dataclasses.asdict(c) for c in cases),
        f"{len(cases)} waiting",
    )


async def _waiting_cases(kafka: Kafka) -> list[domain.OffenePruefung]:
    return domain.offene_pruefungen(
        await kafka.read(Topics.REVIEW_PENDING_MANUAL.name),
        await kafka.read(Topics.REVIEW_DECIDED.name),
        await kafka.read(Topics.REVIEW_OVERDUE.name),
    )


def _one_decision(approve: bool, deny: bool, deny_flag: str, reason: str) -> None:
    """A decision is one of the two, and given with a written reason."""
    if approve == deny:
        raise InputError(f"give exactly one of --approve and {deny_flag}")
    if not reason.strip():
        raise InputError("--reason is required: the decision is given with a written reason")


async def _apply_signature(kafka: Kafka, decision: ManualDecision, wait: float) -> None:
    """Sends the signed command and prints legal_review's answer: the decision, the wait for a
    countersignature, or why it was not applied."""
    with err.status("waiting for legal_review …"):
        answer = await kafka.ask(
            Topics.REVIEW_MANUAL_DECISION,
            decision,
            [
                Topics.REVIEW_DECIDED.name,
                Topics.REVIEW_DECISION_REJECTED.name,
                Topics.REVIEW_PENDING_MANUAL.name,
            ],
            lambda s: s.body.get("application_id") == decision.application_id,
            wait,
        )
    if answer is None:
        raise NoAnswer(f"legal_review did not answer within {wait:g} s")
    for step in domain.zeitleiste([answer]):
        _print_step(step)
    if answer.topic == Topics.REVIEW_DECISION_REJECTED.name:
        raise Abort("legal_review did not apply the decision")


AS_RECOMMENDED = "Der Empfehlung wird gefolgt."
COUNTERSIGNED = "Gegengezeichnet nach dem Vier-Augen-Prinzip."


@review_app.command("sign")
def review_sign(
    ctx: typer.Context,
    application_id: Annotated[str, typer.Argument()],
    approve: Annotated[bool, typer.Option("--approve", help="decide: admissible")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="decide: not admissible")] = False,
    reason: Annotated[
        str, typer.Option(help="your written reason (required with a decision of your own)")
    ] = "",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="sign without asking")] = False,
    wait: Annotated[float, typer.Option(help="seconds to wait for legal_review")] = 60.0,
) -> None:
    """Sign a waiting case. As it stands (the rules' recommendation, or the first signer's
    decision when you countersign): shows the decision and signs on one keystroke (y). Or a
    decision of your own with --approve/--reject and --reason. The decision is an administrative
    act by your signature (§ 35a VwVfG)."""

    async def work(k: CliContext) -> None:
        async with k.kafka() as kafka:
            with err.status("reading the case …"):
                found = [
                    c for c in await _waiting_cases(kafka) if c.application_id == application_id
                ]
            if not found:
                raise InputError(f"{application_id} waits for no signature (see review list)")
            [case] = found
            if approve or reject:
                _one_decision(approve, reject, "--reject", reason)
                decision, why = ("approved" if approve else "rejected"), reason
            elif case.proposed is None:
                raise InputError(
                    "the rules left this case open: decide with --approve or --reject and --reason"
                )
            else:
                decision = case.proposed
                why = reason or (COUNTERSIGNED if case.signatures else AS_RECOMMENDED)
                out.print(case.statement or decision)
                if case.signatures:
                    out.print(f"signed by {', '.join(case.signatures)}; you countersign")
                if not yes and not await asyncio.to_thread(_confirmed, "sign? [y/N] "):
                    raise Abort("not signed")
            await _apply_signature(
                kafka,
                ManualDecision(
                    application_id=application_id,
                    operator_id=ctx.obj.operator,
                    decision=decision,
                    reason=why,
                ),
                wait,
            )

    _run(ctx, work)


def _confirmed(prompt: str) -> bool:
    """One keystroke at a terminal; elsewhere --yes is needed."""
    if not sys.stdin.isatty():
        raise InputError("confirm with --yes when not at a terminal")
    err.print(prompt, end="")
    key = typer.getchar()
    err.print(key)
    return key.lower() == "y"


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    application_id: Annotated[str, typer.Argument()],
    approve: Annotated[bool, typer.Option("--approve", help="the access is admissible")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="the access is not admissible")] = False,
    reason: Annotated[str, typer.Option(help="your written reason, for the decision letter")] = "",
    wait: Annotated[float, typer.Option(help="seconds to wait for legal_review")] = 60.0,
) -> None:
    """Sign a decision of your own on a waiting case (review sign with --approve/--reject)."""
    _one_decision(approve, reject, "--reject", reason)
    decision = ManualDecision(
        application_id=application_id,
        operator_id=ctx.obj.operator,
        decision="approved" if approve else "rejected",
        reason=reason,
    )

    async def work(k: CliContext) -> None:
        async with k.kafka() as kafka:
            await _apply_signature(kafka, decision, wait)

    _run(ctx, work)


# -- the portal ---------------------------------------------------------------------------------


def _portal_ask(
    ctx: typer.Context,
    spec: TopicSpec,
    command: BaseModel,
    rejected: TopicSpec,
    registration_id: str,
    wait: float,
) -> None:
    """Publishes an operator's command to the portal (signed) and reports the requester's new
    state, or the portal's reason for refusing it."""

    async def work(k: CliContext) -> Record | None:
        async with k.kafka() as kafka:
            with err.status("waiting for the portal …"):
                return await kafka.ask(
                    spec,
                    command,
                    [Topics.PORTAL_REQUESTER.name, rejected.name],
                    lambda s: s.body.get("registration_id") == registration_id,
                    wait,
                )

    answer = _run(ctx, work)
    if answer is None:
        raise NoAnswer(f"the portal did not answer within {wait:g} s")
    if answer.topic == rejected.name:
        raise Abort(f"refused: {answer.body.get('grund')}: {answer.body.get('text')}")
    out.print(f"{registration_id}: {answer.body.get('status')} (by {ctx.obj.operator})")


@portal_app.command("decide")
def portal_decide(
    ctx: typer.Context,
    registration_id: Annotated[str, typer.Argument()],
    approve: Annotated[bool, typer.Option("--approve", help="admit the requester")] = False,
    refuse: Annotated[bool, typer.Option("--refuse", help="refuse the registration")] = False,
    reason: Annotated[str, typer.Option(help="your written reason")] = "",
    wait: Annotated[float, typer.Option(help="seconds to wait for the portal")] = 60.0,
) -> None:
    """Decide a complete registration (signed as you); waits until the portal applied it."""
    _one_decision(approve, refuse, "--refuse", reason)
    decision = RegistrationDecision(
        decision_id=new_id("D"),
        registration_id=registration_id,
        operator_id=ctx.obj.operator,
        zulassen=approve,
        begruendung=reason,
        decided_at=datetime.now(UTC),
    )

    _portal_ask(
        ctx,
        Topics.PORTAL_REGISTRATION_DECISION,
        decision,
        Topics.PORTAL_REGISTRATION_DECISION_REJECTED,
        registration_id,
        wait,
    )


@portal_app.command("requester")
def portal_requester(
    ctx: typer.Context,
    registration_id: Annotated[str, typer.Argument()],
    action: Annotated[RequesterAction, typer.Argument(help="lock, unlock, suspend or lift")],
    reason: Annotated[str, typer.Option(help="your written reason")] = "",
    wait: Annotated[float, typer.Option(help="seconds to wait for the portal")] = 60.0,
) -> None:
    """Lock, unlock (also after five failed sign-ins), suspend or lift a requester's account
    (signed as you); waits until the portal applied it."""
    if not reason.strip():
        raise InputError("--reason is required")
    command = RequesterCommand(
        command_id=new_id("RC"),
        registration_id=registration_id,
        action=action,
        operator_id=ctx.obj.operator,
        begruendung=reason,
        at=datetime.now(UTC),
    )

    _portal_ask(
        ctx,
        Topics.PORTAL_REQUESTER_COMMAND,
        command,
        Topics.PORTAL_REQUESTER_COMMAND_REJECTED,
        registration_id,
        wait,
    )


@portal_app.command("statements")
def portal_statements(
    ctx: typer.Context,
    monat: Annotated[str, typer.Argument(help="the month, YYYY-MM")],
) -> None:
    """Ask for the fee statements of a month (signed as you); they come on
    min.portal.statement.v1, provisional while the month runs."""
    try:
        request = StatementRequested(
            request_id=new_id("S"),
            monat=monat,
            requested_by=ctx.obj.operator,
            requested_at=datetime.now(UTC),
        )
    except ValidationError as exc:
        raise InputError(schema_violations(exc)) from None

    async def work(k: CliContext) -> None:
        async with k.kafka() as kafka:
            await kafka.publish_event(Topics.PORTAL_STATEMENT_REQUESTED, request)

    _run(ctx, work)
    out.print(f"statements of {monat} requested by {ctx.obj.operator} ({request.request_id})")


# -- tenants ----------------------------------------------------------------------------------


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


class UserAction(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"
    REISSUE_PASSWORD = "reissue-password"
    RESET_PASSWORD = "reset-password"
    DELETE = "delete"
    REVOKE_CERTIFICATE = "revoke-certificate"
    REPLACE_CERTIFICATE = "replace-certificate"
    GRANT_AUSWERTUNG = "grant-auswertung"
    REVOKE_AUSWERTUNG = "revoke-auswertung"


USER_ACTIONS = {
    UserAction.LOCK: CommandAction.LOCK_USER,
    UserAction.UNLOCK: CommandAction.UNLOCK_USER,
    UserAction.REISSUE_PASSWORD: CommandAction.REISSUE_INITIAL_PASSWORD,
    UserAction.RESET_PASSWORD: CommandAction.RESET_USER_PASSWORD,
    UserAction.DELETE: CommandAction.DELETE_USER,
    UserAction.REVOKE_CERTIFICATE: CommandAction.REVOKE_CERTIFICATE,
    UserAction.REPLACE_CERTIFICATE: CommandAction.REPLACE_CERTIFICATE,
    UserAction.GRANT_AUSWERTUNG: CommandAction.GRANT_AUSWERTUNG,
    UserAction.REVOKE_AUSWERTUNG: CommandAction.REVOKE_AUSWERTUNG,
}


async def _tenant(kafka: Kafka, tenant_id: str) -> dict[str, Any]:
    states = domain.neueste_staende(await kafka.read_key(Topics.TENANT_STATE, tenant_id))
    if tenant_id not in states:
        raise Abort(f"no tenant {tenant_id} on {Topics.TENANT_STATE.name}")
    return states[tenant_id]


def _tenant_state(ctx: typer.Context, tenant_id: str) -> dict[str, Any]:
    async def work(k: CliContext) -> dict[str, Any]:
        async with k.kafka() as kafka:
            return await _tenant(kafka, tenant_id)

    return _run(ctx, work)


@tenant_app.command("list")
def tenant_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Every tenant with its newest state."""

    async def work(k: CliContext) -> dict[str, dict[str, Any]]:
        async with k.kafka() as kafka:
            return domain.neueste_staende(await kafka.read(Topics.TENANT_STATE.name))

    show(
        out,
        output,
        [
            Column("tenant_id", "tenant"),
            Column("authority_name", "authority"),
            Column("role", "role"),
            Column("status", "status"),
            Column("users", "users"),
        ],
        (
            {**s, "tenant_id": tenant_id, "users": len(s.get("users", []))}
            for tenant_id, s in sorted(_run(ctx, work).items())
        ),
    )


@tenant_app.command("show")
def tenant_show(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    output: OutputOption = Output.TABLE,
) -> None:
    """A tenant's newest state: role, status, data scope, logging, conditions (with -o json the
    whole state as the tenant state topic carries it, users and procedures included)."""

    s = _tenant_state(ctx, tenant_id)
    if output is Output.JSON:
        write_json(s)
        return
    fields = {
        field: s.get(field)
        for field in (
            "tenant_id",
            "authority_name",
            "authority_kind",
            "role",
            "status",
            "status_reason",
            "data_scope",
            "logging_arrangement",
            "client_certificate_fingerprint",
            "version",
            "updated_at",
        )
    }
    fields["conditions"] = ", ".join(c["code"] for c in s.get("conditions", []))
    show_one(out, output, fields)


@tenant_app.command("users")
def tenant_users(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    output: OutputOption = Output.TABLE,
) -> None:
    """A tenant's users: administrator and users, with status and certificate binding."""

    show(
        out,
        output,
        [
            Column("user_id", "user id"),
            Column("username", "username"),
            Column("kind", "kind"),
            Column("status", "status"),
            Column("certificate_fingerprint", "certificate"),
            Column("sperrdaten_berechtigt", "§ 34a Abs. 6", lambda b: "ermächtigt" if b else "–"),
        ],
        _tenant_state(ctx, tenant_id).get("users", []),
    )


@tenant_app.command("procedures")
def tenant_procedures(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    output: OutputOption = Output.TABLE,
) -> None:
    """A tenant's machine procedures (NMeldVO 2022 § 26 Abs. 2)."""

    show(
        out,
        output,
        [
            Column("name", "procedure"),
            Column("verantwortliche_person", "responsible"),
            Column("certificate_fingerprint", "certificate"),
            Column("status", "status"),
        ],
        _tenant_state(ctx, tenant_id).get("verfahren", []),
    )


async def _command(
    k: CliContext, tenant_id: str, action: str, reason: str, wait: float, **fields: Any
) -> dict[str, Any]:
    command = AccountCommand(
        command_id=new_id("CLI"),
        tenant_id=tenant_id,
        actor={"kind": "operator", "id": k.operator},
        action=action,
        reason=reason,
        **fields,
    )
    async with k.kafka() as kafka:
        with err.status("waiting for provisioning …"):
            answer = await kafka.ask(
                Topics.ACCOUNT_COMMAND,
                command,
                [Topics.ACCOUNT_EVENT.name],
                lambda s: s.body.get("command_id") == command.command_id,
                wait,
            )
    if answer is not None:
        return answer.body
    raise NoAnswer(f"provisioning did not answer command {command.command_id} in {wait:g} s")


def _tenant_command(
    ctx: typer.Context, tenant_id: str, action: str, reason: str, wait: float, **fields: Any
) -> None:
    if not reason.strip():
        raise InputError("--reason is required: the authority is told why")
    event = _run(ctx, lambda k: _command(k, tenant_id, action, reason, wait, **fields))
    if event["kind"] == "command_rejected":
        raise Abort(f"refused: {event.get('reason_code')}: {event.get('message')}")
    out.print(f"{tenant_id}: {event['kind']}")


@tenant_app.command("restrict")
def tenant_restrict(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="why (sent to the authority)")] = "",
    suspend: Annotated[
        bool, typer.Option("--suspend", help="suspected violation: no login either")
    ] = False,
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """Restrict a tenant (no retrieval until lifted), or suspend it with --suspend."""
    _tenant_command(
        ctx, tenant_id, "suspend_tenant" if suspend else "restrict_tenant", reason, wait
    )


@tenant_app.command("lift")
def tenant_lift(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="why the restriction ends")] = "",
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """Lift a tenant's restriction or suspension."""
    _tenant_command(ctx, tenant_id, "lift_tenant", reason, wait)


@tenant_app.command("register-procedure")
def tenant_register_procedure(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="the procedure's name, as its queries give it")],
    responsible: Annotated[str, typer.Option(help="the person responsible for it")],
    fingerprint: Annotated[str, typer.Option(help="SHA-256 of its client certificate")],
    reason: Annotated[str, typer.Option(help="why (e.g. the authority's request)")] = "",
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """Register a machine procedure for a tenant (NMeldVO 2022 § 26 Abs. 2)."""
    procedure = {
        "name": name,
        "verantwortliche_person": responsible,
        "certificate_fingerprint": fingerprint,
    }
    _tenant_command(ctx, tenant_id, "register_procedure", reason, wait, new_procedure=procedure)


@tenant_app.command("lock-procedure")
def tenant_lock_procedure(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="the procedure's name")],
    reason: Annotated[str, typer.Option(help="why")] = "",
    unlock: Annotated[bool, typer.Option("--unlock", help="unlock it again")] = False,
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """Lock a machine procedure (its queries are refused), or unlock it with --unlock."""
    action = "unlock_procedure" if unlock else "lock_procedure"
    _tenant_command(ctx, tenant_id, action, reason, wait, procedure_name=name)


@tenant_app.command("authorise")
def tenant_authorise(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    user_id: Annotated[str, typer.Option(help="the user's id (tenant users)")],
    reason: Annotated[str, typer.Option(help="the authority's instruction")] = "",
    revoke: Annotated[bool, typer.Option("--revoke", help="withdraw it")] = False,
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """Authorise a user to receive data despite an Auskunftssperre (§ 34a Abs. 6 BMG), or
    withdraw it with --revoke."""
    action = "revoke_sperrdaten" if revoke else "grant_sperrdaten"
    _tenant_command(ctx, tenant_id, action, reason, wait, user_id=user_id)


@tenant_app.command("audit")
def tenant_audit(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    fmt: Annotated[Format, typer.Option("--format")] = Format.CSV,
    to_file: Annotated[
        Path | None, typer.Option("--file", help="file to write; default stdout")
    ] = None,
) -> None:
    """The security audit of a tenant's accounts (signed in as an operator account): its users,
    its status history, the account commands given for it and its users' sign-ins; CSV as one
    timeline, JSON in full."""
    text = AccountsApi(ctx.obj.settings.auth_api_url, ctx.obj.session()).audit(tenant_id, fmt.value)
    if fmt is Format.JSON:
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
    _write(text, None, to_file)


@tenant_app.command("user")
def tenant_user(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument()],
    action: Annotated[UserAction, typer.Argument(help="what to do with the account")],
    user_id: Annotated[str, typer.Option(help="the user's id")],
    reason: Annotated[str, typer.Option(help="why (e.g. the authority's request)")] = "",
    fingerprint: Annotated[
        str | None, typer.Option(help="for replace-certificate: SHA-256 of the new certificate")
    ] = None,
    wait: Annotated[float, typer.Option()] = 60.0,
) -> None:
    """An account's life: lock, unlock, reissue-password (an unused initial password, by
    letter), reset-password (a user's, by letter or S/MIME mail), delete, revoke-certificate,
    replace-certificate --fingerprint, grant-auswertung, revoke-auswertung."""
    fields: dict[str, Any] = {"user_id": user_id}
    if action is UserAction.REPLACE_CERTIFICATE:
        if not fingerprint:
            raise InputError("replace-certificate needs --fingerprint")
        fields["certificate_fingerprint"] = fingerprint
    _tenant_command(ctx, tenant_id, USER_ACTIONS[action].value, reason, wait, **fields)


# -- queries ----------------------------------------------------------------------------------


@app.command("query")
def query(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="the tenant the user belongs to")],
    user: Annotated[str, typer.Option(help="the user's name (Kennung)")],
    ags: Annotated[list[str], typer.Option(help="Amtlicher Gemeindeschlüssel, 8 digits")],
    familienname: Annotated[str, typer.Option()],
    aktenzeichen: Annotated[str, typer.Option(help="the authority's file number")],
    anlass: Annotated[str, typer.Option(help="why the authority asks")],
    anschrift: Annotated[str, typer.Option(help="the authority's address")],
    erreichbarkeit: Annotated[str, typer.Option(help="phone or mail of the asking person")],
    vornamen: Annotated[str | None, typer.Option()] = None,
    geburtsdatum: Annotated[str | None, typer.Option(help="JJJJMMTT")] = None,
    frueherer_name: Annotated[str | None, typer.Option()] = None,
    geschlecht: Annotated[str | None, typer.Option()] = None,
    strasse: Annotated[str | None, typer.Option()] = None,
    hausnummer: Annotated[str | None, typer.Option()] = None,
    postleitzahl: Annotated[str | None, typer.Option()] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 60.0,
) -> None:
    """Run a Personensuche as a tenant's user and print the delivered answer with its
    Vorgangsnummer (opened with the front end's key)."""
    kriterien = {
        "familienname": familienname,
        "vornamen": vornamen,
        "geburtsdatum": geburtsdatum,
        "frueherer_name": frueherer_name,
        "geschlecht": geschlecht,
        "strasse": strasse,
        "hausnummer": hausnummer,
        "postleitzahl": postleitzahl,
    }

    async def work(k: CliContext) -> dict[str, Any]:
        async with k.kafka() as kafka:
            state = await _tenant(kafka, tenant)
            body = {
                "query_id": new_id("CLI-Q"),
                "tenant_id": tenant,
                "anfragende": {
                    "behoerde": state["authority_name"],
                    "anschrift": anschrift,
                    "erreichbarkeit": erreichbarkeit,
                    "aktenzeichen": aktenzeichen,
                    "anlass": anlass,
                    "kennung": user,
                },
                "suchart": "personensuche",
                "gemeindeschluessel": ags,
                "kriterien": {k: v for k, v in kriterien.items() if v is not None},
                "requested_at": datetime.now(UTC).isoformat(),
            }
            try:
                event = QueryRequested.model_validate(body)
            except ValidationError as exc:
                raise InputError(schema_violations(exc)) from None
            with err.status(f"query {event.query_id} …"):
                answer = await kafka.ask(
                    Topics.QUERY_REQUESTED,
                    event,
                    [Topics.QUERY_DELIVERED.name],
                    lambda s: s.key == event.query_id,
                    wait,
                )
        if answer is not None:
            return answer.body
        raise NoAnswer(f"no answer to {event.query_id} within {wait:g} s")

    delivered = _run(ctx, work)
    out.print(f"Vorgangsnummer [bold]{delivered['vorgangsnummer']}[/]")
    out.print(f"Ausgang        {delivered['ausgang']}")
    if delivered.get("nichterstellung"):
        n = delivered["nichterstellung"]
        out.print(f"[red]Nichterstellung {n['code']} ({n['grund']}): {n['text']}[/]")
    if delivered.get("ergebnisstatus"):
        out.print(f"Ergebnisstatus {delivered['ergebnisstatus']}")
    if delivered.get("antwort"):
        key_path = ctx.obj.settings.pki_dir / ANSWER_KEY
        if not key_path.is_file():
            raise Abort(f"the front end's key {key_path} is missing: the answer stays sealed")
        key = load_private_key(key_path.read_bytes())
        raw = open_sealed(key, delivered["antwort"], delivered["vorgangsnummer"].encode())
        out.print(JSON(raw.decode()))
    if delivered["ausgang"] == "rejected":
        raise typer.Exit(1)


# -- the protocol log -------------------------------------------------------------------------


@log_app.command("verify")
def log_verify(ctx: typer.Context) -> None:
    """Verify every chain against its signed checkpoints and retention cuts (operator accounts)."""
    result = ctx.obj.protocol().verify()
    for chain, findings in sorted(result["chains"].items()):
        out.print(f"{chain}: {'[green]intact[/]' if not findings else '[red]FINDINGS[/]'}")
        for finding in findings:
            out.print(f"  - {finding}")
    if not result["intact"]:
        raise typer.Exit(1)


def _write(text: str, count: int | None, to_file: Path | None) -> None:
    if to_file is None:
        sys.stdout.write(text)
    else:
        to_file.write_text(text, encoding="utf-8")
        err.print(f"{'' if count is None else f'{count} entries '}written to {to_file}")


def _person(person: str | None) -> dict[str, str] | None:
    if person is None:
        return None
    ags, sep, merkmal = person.partition(":")
    if not sep or not ags or not merkmal:
        raise InputError(f"{person!r}: expected AGS:Ordnungsmerkmal, e.g. 03241001:0000123")
    return {"gemeindeschluessel": ags, "ordnungsmerkmal": merkmal}


def _export(ctx: typer.Context, fmt: Format, to_file: Path | None, **query: Any) -> None:
    api = ctx.obj.protocol()
    if fmt is Format.CSV:
        _write(api.export_csv(**query), None, to_file)
    else:
        entries = api.read(**query)
        _write(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", len(entries), to_file)


@log_app.command("export")
def log_export(
    ctx: typer.Context,
    purpose: Annotated[Zweck, typer.Option(help="the purpose of § 40 Abs. 5 Satz 3 BMG (logged)")],
    tenant: Annotated[str | None, typer.Option(help="only this tenant's retrievals")] = None,
    vorgangsnummer: Annotated[str | None, typer.Option()] = None,
    user: Annotated[str | None, typer.Option(help="only this retrieving person's Kennung")] = None,
    person: Annotated[
        str | None, typer.Option(help="only retrievals that found AGS:Ordnungsmerkmal")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="from (ISO date or time)")] = None,
    until: Annotated[datetime | None, typer.Option(help="before (ISO date or time)")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.CSV,
    to_file: Annotated[
        Path | None, typer.Option("--file", help="file to write; default stdout")
    ] = None,
) -> None:
    """Export log entries for a stated purpose as the signed-in account; the export is itself
    logged. An authority's administrator (or a user authorised to evaluate) gets only the
    authority's own retrievals."""
    _export(
        ctx,
        fmt,
        to_file,
        purpose=purpose.value,
        tenant_id=tenant,
        vorgangsnummer=vorgangsnummer,
        kennung=user,
        subject=_person(person),
        since=since.astimezone().isoformat() if since else None,
        until=until.astimezone().isoformat() if until else None,
    )


@log_app.command("subject")
def log_subject(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="AGS:Ordnungsmerkmal of the person concerned")],
    fmt: Annotated[Format, typer.Option("--format")] = Format.JSON,
    to_file: Annotated[
        Path | None, typer.Option("--file", help="file to write; default stdout")
    ] = None,
) -> None:
    """Information for the person concerned (§ 11 BMG): the retrievals of their data, without
    those of security authorities."""
    _export(ctx, fmt, to_file, purpose=Zweck.AUSKUNFT_BETROFFENE.value, subject=_person(person))


# -- signing in -------------------------------------------------------------------------------


def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError(f"{prompt}: nothing on standard input")
        return line.rstrip("\n")
    return getpass.getpass(f"{prompt}: ")


@app.command("login")
def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="your account name")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="read the password from standard input (and, if the initial password must be "
            "changed, the new one from the next line)",
        ),
    ] = False,
) -> None:
    """Sign in at the authentication API; the read commands then act as this account. An initial
    password is changed first."""
    auth = AuthApi(ctx.obj.settings.auth_api_url)
    password = _read_secret("password", password_stdin)
    status, answer = auth.login(username, password)
    if answer.get("outcome") == "password_change_required":
        err.print("The initial password must be changed first.")
        new = _read_secret("new password", password_stdin)
        if not password_stdin and new != getpass.getpass("new password again: "):
            raise InputError("the two new passwords differ")
        status, changed = auth.change_password(username, password, new)
        if changed.get("outcome") != "password_changed":
            detail = "; ".join(changed.get("detail") or [])
            raise Abort(f"{changed.get('message')} {detail}".strip())
        status, answer = auth.login(username, new)
    if status != 200 or "access_token" not in answer:
        detail = "; ".join(answer.get("detail") or [])
        raise Abort(f"{answer.get('message', 'sign-in refused')} {detail}".strip())
    session = session_of(answer, username, auth.url)
    SessionFile(ctx.obj.settings.session_file).save(session)
    out.print(f"signed in as {_who(session)}; token valid until {session['expires_at']}")


def _who(session: dict[str, Any]) -> str:
    if session.get("tenant_id"):
        grants = ", ".join(session.get("authorisations") or []) or "no authorisations"
        return (
            f"{session['username']} ({session.get('kind')} of tenant {session['tenant_id']}; "
            f"{grants})"
        )
    return f"{session['username']} (operator account, role {', '.join(session.get('roles', []))})"


@app.command("logout")
def logout(ctx: typer.Context) -> None:
    """Forget the signed-in session."""
    gone = SessionFile(ctx.obj.settings.session_file).clear()
    out.print("signed out" if gone else "was not signed in")


@app.command("whoami")
def whoami(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Who the read commands act as (the signed-in account), and the operator id recorded with
    commands published to topics."""
    session = SessionFile(ctx.obj.settings.session_file).load()
    operator = ctx.obj.operator
    try:
        key = ctx.obj.operator_key()
        signing = f"signed with the certificate of {key.operator_id} ({key.role})"
    except InputError as exc:
        signing = f"cannot sign: {exc}"
    if output is Output.JSON:
        write_json(
            {
                "signed_in": _who(session) if session else None,
                "token_valid_until": session["expires_at"] if session else None,
                "operator": operator,
                "signing": signing,
            }
        )
        return
    out.print(f"signed in: {_who(session) if session else 'no'}")
    if session:
        out.print(f"token valid until: {session['expires_at']}")
    out.print(f"operator on published commands: {operator}, {signing}")


# -- dead letters -----------------------------------------------------------------------------

DLQ_TOPICS = [s.dlq for s in CATALOGUE if s.consumed]


def _dlq_topics(topic: str | None) -> list[str]:
    if topic is None:
        return DLQ_TOPICS
    name = topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX
    if name not in DLQ_TOPICS:
        raise InputError(f"{topic!r} has no dead-letter topic; see `meldespiegel topics`")
    return [name]


async def _dead_letters(kafka: Kafka, topics: list[str]) -> tuple[list[Record], dict[str, Any]]:
    with err.status("reading the dead-letter topics …"):
        letters = await kafka.read(*topics)
        done = domain.zurueckgegeben(await kafka.read(Topics.OPERATOR_REDRIVEN.name))
    return letters, done


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="one topic (with or without .dlq)")] = None,
    redriven: Annotated[bool, typer.Option(help="include those already redriven")] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """Dead letters with their error, not yet redriven unless --redriven."""
    topics = _dlq_topics(topic)

    async def work(k: CliContext) -> tuple[list[Record], dict[str, Any]]:
        async with k.kafka() as kafka:
            return await _dead_letters(kafka, topics)

    letters, done = _run(ctx, work)
    rows = []
    for s in sorted(letters, key=lambda s: s.at):
        if s.ref in done and not redriven:
            continue
        letter = DeadLetter.of(s.headers)
        by = done.get(s.ref)
        rows.append(
            {
                "reference": s.ref,
                "key": s.key,
                "error": f"{letter.error_type}: {letter.error}" if letter else None,
                "failed_at": letter.failed_at if letter else None,
                "redriven_by": by["operator"] if by else None,
                "redriven_at": by["redriven_at"] if by else None,
            }
        )
    show(
        out,
        output,
        [
            Column("reference", "reference"),
            Column("key", "key"),
            Column("error", "error", lambda e: e[:100] if e else "?"),
            Column("failed_at", "failed at", _time),
            Column("redriven_by", "redriven by", lambda b: b or ""),
            Column("redriven_at", "redriven at", _time),
        ],
        rows,
        f"{len(rows)} shown; {len(letters)} retained, {len(done)} redriven",
    )


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context, ref: Annotated[str, typer.Argument(help="as `dlq list` prints it")]
) -> None:
    """One dead letter: headers, error and the original bytes."""
    where = Ref.parse(ref)

    async def work(k: CliContext) -> Record | None:
        async with k.kafka() as kafka:
            return await kafka.record(where.topic, where.partition, where.offset)

    s = _run(ctx, work)
    if s is None:
        raise Abort(f"no retained record at {where}")
    table = Table(show_header=False)
    table.add_row("key", s.key or "–")
    for k, v in sorted(s.headers.items()):
        table.add_row(k, v)
    out.print(table)
    try:
        out.print(JSON(s.value.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        out.print(repr(s.value[:2000]))


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Argument(help="one dead letter, as `dlq list` prints it")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter not yet redriven")] = False,
    topic: Annotated[
        str | None, typer.Option(help="with --all: only this dead-letter topic")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would go back")] = False,
    again: Annotated[bool, typer.Option(help="redrive one that was redriven before")] = False,
) -> None:
    """Publish dead letters back to their original topics (named in their headers), with the
    same event id; each redrive is recorded on the operators' audit topic."""
    if (ref is None) == (not all_):
        raise InputError("give one reference or --all")
    if ref is not None and topic is not None:
        raise InputError("--topic goes with --all")
    one = Ref.parse(ref) if ref is not None else None
    topics = [one.topic] if one else _dlq_topics(topic)

    async def work(k: CliContext) -> int:
        async with k.kafka() as kafka:
            letters, done = await _dead_letters(kafka, topics)
            if one is not None:
                letters = [s for s in letters if s.ref == str(one)]
                if not letters:
                    raise Abort(f"no retained dead letter at {one}")
                if str(one) in done and not again:
                    by = done[str(one)]
                    raise Abort(
                        f"{one} was redriven by {by['operator']} at {_time(by['redriven_at'])}; "
                        "add --again to send it once more"
                    )
            else:
                letters = [s for s in letters if s.ref not in done]
            now = datetime.now(UTC)
            plans = [domain.redrive_of(s, k.operator, now) for s in letters]
            if dry_run:
                for p in plans:
                    out.print(f"would redrive {p.ref} → {p.topic} (key {p.key})")
                out.print(f"{len(plans)} would be redriven (dry run, nothing published)")
                return 0
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("redriving", total=len(plans))
                for p, s in zip(plans, letters, strict=True):
                    await kafka.publish_redrive(p.topic, p.value, p.key, p.headers)
                    await kafka.publish_event(
                        Topics.OPERATOR_REDRIVEN,
                        Redriven(
                            dead_letter=str(p.ref),
                            dlq_topic=p.ref.topic,
                            original_topic=p.topic,
                            event_id=p.headers.get("ce_id"),
                            error_type=_error_type(s),
                            operator=k.operator,
                            redriven_at=now,
                        ),
                    )
                    out.print(f"redriven {p.ref} → {p.topic}")
                    progress.advance(task)
            return len(plans)

    count = _run(ctx, work)
    if not dry_run:
        out.print(f"{count} redriven")


# -- topics -------------------------------------------------------------------------------------


@app.command("topics")
def topics(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """The topic catalogue as the cluster has it: partitions, retained records, lag per
    consumer group."""

    async def work(k: CliContext) -> list[domain.TopicRow]:
        async with k.kafka() as kafka:
            with err.status("reading the cluster's metadata …"):
                existing = await kafka.topics()
                names = [(s.name, s.partitions) for s in CATALOGUE]
                names += [(s.dlq, s.partitions) for s in CATALOGUE if s.consumed]
                starts, ends = await kafka.offsets(n for n, _ in names if n in existing)
                parts = sorted(ends)
                ends_all = {(tp.topic, tp.partition): e for tp, e in ends.items()}
                rows = []
                for name, wanted in names:
                    row = domain.TopicRow(name, wanted, None)
                    if name in existing:
                        mine = [tp for tp in parts if tp.topic == name]
                        row.partitions_found = len(mine)
                        row.retained = sum(ends[tp] - starts[tp] for tp in mine)
                    rows.append(row)
                for group, committed in (await kafka.group_offsets()).items():
                    for topic, lag in domain.lag_per_topic(committed, ends_all).items():
                        for row in rows:
                            if row.name == topic:
                                row.lag[group] = lag
                return rows

    rows = _run(ctx, work)
    if output is Output.JSON:
        write_json([dataclasses.asdict(row) for row in rows])
        return
    table = Table("topic", "partitions", "retained", "lag per consumer group")
    missing = 0
    for row in rows:
        if row.partitions_found is None:
            missing += 1
            table.add_row(row.name, "[red]missing[/]", "", "")
            continue
        parts = str(row.partitions_found)
        if row.partitions_found != row.partitions_wanted:
            parts = f"[yellow]{parts} (catalogue: {row.partitions_wanted})[/]"
        lag = ", ".join(f"{g}={n}" for g, n in sorted(row.lag.items()))
        table.add_row(row.name, parts, str(row.retained), lag)
    out.print(table)
    if missing:
        out.print(
            f"[red]{missing} catalogue topics are missing: "
            "run `python -m shared.platform.kafka_admin ensure`[/]"
        )


def run() -> None:
    """The `meldespiegel` entry point: clear messages and exit codes, never a traceback."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its errors come back as ours
    try:
        app()
    except Abort as exc:
        err.print(f"[red]meldespiegel: {exc}[/]")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("MELDESPIEGEL_CLI_DEBUG"):
            traceback.print_exc()
        err.print(f"[red]meldespiegel: unexpected {exc.__class__.__name__}: {exc}[/]")
        err.print("(set MELDESPIEGEL_CLI_DEBUG=1 for the details)")
        sys.exit(1)
