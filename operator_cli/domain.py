"""What the operator commands compute from topics, free of I/O: application timelines, open
reviews, the newest tenant states, dead letters and their redrive, consumer lag, log exports."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.contract.deadletter import (
    REDRIVEN_AT,
    REDRIVEN_BY,
    REDRIVEN_FROM,
    DeadLetter,
    redrive_headers,
)
from shared.contract.events.application import ApplicationSubmitted
from shared.contract.topics import DLQ_SUFFIX, Topics
from shared.platform.broker import schema_violations
from shared.platform.kafka_client import Record


class Abort(Exception):
    """A command cannot go on; the message says why. Exit status 1."""

    exit_code = 1


class InputError(Abort, ValueError):
    """Input the command cannot use; the message says what to change. Exit status 2."""

    exit_code = 2


class NoAnswer(Abort):
    """What was published got no answer in time (the service may be down or lagging)."""


# -- applications ---------------------------------------------------------------------------


def load_application(path: Path, text: str) -> dict[str, Any]:
    """An application from JSON or YAML, checked against the submitted event's schema."""
    try:
        data = (
            yaml.safe_load(text) if path.suffix.lower() in {".yaml", ".yml"} else json.loads(text)
        )
    except (ValueError, yaml.YAMLError) as exc:
        kind = "YAML" if path.suffix.lower() in {".yaml", ".yml"} else "JSON"
        raise InputError(f"{path.name} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} must hold one application object")
    try:
        ApplicationSubmitted.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path.name}: {schema_violations(exc)}") from None
    # dates and the like as the upstream systems send them: JSON text
    return json.loads(json.dumps(data, default=str))


def application_of(record: Record) -> str | None:
    """The application an event belongs to, or None."""
    body = record.body
    if record.topic == Topics.APPLICATION_ACCEPTED.name:
        inner = body.get("application")
        value = inner.get("application_id") if isinstance(inner, dict) else None
        return value if isinstance(value, str) else None
    if record.topic.endswith(DLQ_SUFFIX):
        return record.key
    value = body.get("application_id")
    return value if isinstance(value, str) else None


def _text(value: Any) -> str:
    """A field that should be text, or "" if a record has something else there."""
    return value if isinstance(value, str) else ""


def _codes(items: Iterable[dict[str, Any]]) -> str:
    return ", ".join(str(i.get("code")) for i in items)


UNREADABLE = "unreadable record (not an event of this topic), skipped"


def _describe(record: Record) -> str:
    if not record.readable and not record.topic.endswith(DLQ_SUFFIX):
        return UNREADABLE
    try:
        return _describe_event(record)
    except (KeyError, TypeError, ValueError, AttributeError):
        return UNREADABLE


def _describe_event(record: Record) -> str:
    b = record.body
    t = record.topic
    if t == Topics.APPLICATION_SUBMITTED.name:
        return "submitted"
    if t == Topics.APPLICATION_ACCEPTED.name:
        return "accepted as complete, handed to legal review"
    if t == Topics.APPLICATION_INCOMPLETE.name:
        return f"incomplete: {_codes(b.get('defects', []))}"
    if t == Topics.APPLICATION_REFUSED.name:
        return f"refused at intake: {b.get('reason_code')} ({b.get('message', '')})"
    if t == Topics.REVIEW_PENDING_MANUAL.name:
        if b.get("signatures"):
            return f"signed by {', '.join(b['signatures'])}; waiting for a countersignature"
        if b.get("recommendation"):
            return f"recommended: {b['recommendation']}; waiting for an operator's signature"
        return f"waiting for a manual decision: {_codes(b.get('needed', []))}"
    if t == Topics.REVIEW_MANUAL_DECISION.name:
        return f"signed by {b.get('operator_id')}: {b.get('decision')} ({b.get('reason')})"
    if t == Topics.REVIEW_DECISION_REJECTED.name:
        return f"signature not applied: {b.get('reason_code')} ({b.get('message')})"
    if t == Topics.REVIEW_LOGGING_COMMISSIONED.name:
        return f"logging commissioned ({b.get('reference')})"
    if t == Topics.REVIEW_OVERDUE.name:
        return f"overdue ({b.get('level')}), waiting for {b.get('waiting_for')}"
    if t == Topics.REVIEW_DECIDED.name:
        # decisions from before signatures name "rules" and no signature: the rules alone
        signatures = b.get("signatures") or []
        unsigned = b.get("automatic") or (not signatures and b.get("decided_by") == "rules")
        who = (
            "by the rules, unsigned"
            if unsigned
            else "signed by " + ", ".join(signatures or [str(b.get("decided_by"))])
        )
        if b.get("decision") == "approved":
            terms = _codes(b.get("conditions", [])) or "no conditions"
            return f"approved, {who} ({terms}): {b.get('statement', '')}"
        return f"rejected, {who}: {b.get('statement', '')}"
    if t == Topics.ACCOUNT_PROVISIONED.name:
        return (
            f"{b.get('kind')}: tenant {b.get('tenant_id')}, "
            f"administrator {b.get('administrator_username')}"
        )
    if t == Topics.ACCOUNT_PROVISIONING_REFUSED.name:
        return f"provisioning refused: {b.get('reason_code')} ({b.get('message')})"
    if t == Topics.ACCOUNT_CREDENTIALS.name:
        return f"credentials issued for {b.get('username')} ({b.get('purpose')})"
    if t == Topics.MAIL_DISPATCHED.name:
        how = "signed and encrypted" if b.get("signed") and b.get("encrypted") else "sent"
        if b.get("channel") == "letter":
            how = "letter put in the print spool"
        return f"{b.get('kind')} to {b.get('recipient')}: {how}"
    if t == Topics.MAIL_FAILED.name:
        return f"{b.get('kind')} to {b.get('recipient')} FAILED: {b.get('error')}"
    if t.endswith(DLQ_SUFFIX):
        letter = DeadLetter.of(record.headers)
        return f"dead-lettered: {letter.error_type}: {letter.error}" if letter else "dead-lettered"
    return t


@dataclass(frozen=True)
class Step:
    at: datetime
    topic: str
    was: str
    fehler: bool = False


FEHLER_TOPICS = {
    Topics.APPLICATION_INCOMPLETE.name,
    Topics.APPLICATION_REFUSED.name,
    Topics.REVIEW_DECISION_REJECTED.name,
    Topics.ACCOUNT_PROVISIONING_REFUSED.name,
    Topics.MAIL_FAILED.name,
}


def zeitleiste(records: Iterable[Record]) -> list[Step]:
    """An application's events as steps in time order, each event once."""
    seen: set[str] = set()
    steps = []
    for s in records:
        event_id = s.headers.get("ce_id") or s.ref
        if event_id in seen and not s.topic.endswith(DLQ_SUFFIX):
            continue
        seen.add(event_id)
        failed = s.topic in FEHLER_TOPICS or s.topic.endswith(DLQ_SUFFIX)
        if s.topic == Topics.REVIEW_DECIDED.name and s.body.get("decision") == "rejected":
            failed = True
        steps.append(Step(s.at, s.topic, _describe(s), failed))
    return sorted(steps, key=lambda st: st.at)


def stand(records: Sequence[Record]) -> str:
    """Where an application stands, from the last decisive event."""
    decisive = {
        Topics.APPLICATION_SUBMITTED.name: "submitted, not yet checked",
        Topics.APPLICATION_ACCEPTED.name: "in legal review",
        Topics.APPLICATION_INCOMPLETE.name: "incomplete (the authority was told the defects)",
        Topics.APPLICATION_REFUSED.name: "refused at intake",
        Topics.REVIEW_PENDING_MANUAL.name: "waiting for an operator's signature",
        Topics.ACCOUNT_PROVISIONED.name: "approved; tenant and administrator provisioned",
        Topics.ACCOUNT_PROVISIONING_REFUSED.name: "approved, but provisioning refused",
    }
    result = "unknown: no event of this application on the retained topics"
    for s in sorted(records, key=lambda s: s.at):
        topic = s.topic
        if topic == Topics.REVIEW_DECIDED.name:
            result = (
                "approved; provisioning"
                if s.body.get("decision") == "approved"
                else "rejected after legal review"
            )
        elif topic.endswith(DLQ_SUFFIX):
            result = "dead-lettered: see `meldespiegel dlq list`"
        elif topic in decisive:
            result = decisive[topic]
    return result


def abgeschlossen(records: Sequence[Record]) -> bool:
    """Whether following an application can stop: nothing more comes without someone acting."""
    done = {
        Topics.APPLICATION_INCOMPLETE.name,
        Topics.APPLICATION_REFUSED.name,
        Topics.REVIEW_PENDING_MANUAL.name,
        Topics.ACCOUNT_PROVISIONED.name,
        Topics.ACCOUNT_PROVISIONING_REFUSED.name,
    }
    for s in records:
        if s.topic in done or s.topic.endswith(DLQ_SUFFIX):
            return True
        if s.topic == Topics.REVIEW_DECIDED.name and s.body.get("decision") == "rejected":
            return True
    return False


# -- reviews ----------------------------------------------------------------------------------


@dataclass
class OffenePruefung:
    application_id: str
    authority_name: str
    needed: list[str]
    pending_since: datetime
    overdue: str | None = None
    recommendation: str | None = None  # the rules'
    proposed: str | None = None  # what signing as it stands confirms (rules' or first signer's)
    statement: str | None = None
    signatures: list[str] = field(default_factory=list)


def offene_pruefungen(
    pending: Iterable[Record], decided: Iterable[Record], overdue: Iterable[Record] = ()
) -> list[OffenePruefung]:
    """Cases waiting for a signature that no decision has closed yet, oldest first, each as its
    newest state says (a first signature publishes it again)."""
    open_: dict[str, OffenePruefung] = {}
    for s in pending:
        b = s.body
        try:
            signatures = [str(x) for x in b.get("signatures") or []]
            case = OffenePruefung(
                str(b["application_id"]),
                str(b.get("authority_name", "")),
                [str(n.get("code", "")) for n in b.get("needed", [])],
                datetime.fromisoformat(b["pending_since"]),
                recommendation=_text(b.get("recommendation")) or None,
                proposed=_text(b.get("proposed")) or None,
                statement=_text(b.get("statement")) or None,
                signatures=signatures,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # not a pending case: the topic's consumers dead-letter it, we skip it
        before = open_.get(case.application_id)
        if before is not None:  # the first time it waited is when it began to wait
            case.pending_since = min(case.pending_since, before.pending_since)
        open_[case.application_id] = case
    for s in decided:
        open_.pop(_text(s.body.get("application_id")), None)
    for s in overdue:
        case = open_.get(_text(s.body.get("application_id")))
        if case is not None:
            case.overdue = _text(s.body.get("level")) or None
    return sorted(open_.values(), key=lambda c: c.pending_since)


# -- deliveries of the registration offices ---------------------------------------------------


@dataclass
class Lieferzeile:
    """One logged delivery of an office, or an alert about its deliveries."""

    at: datetime
    what: str  # the kind of delivery, or the alert's kind
    records: int | None
    removed: int | None
    status: str
    detail: str


def _lieferzeile(s: Record) -> Lieferzeile:
    b = s.body
    if s.topic == Topics.REGISTER_DELIVERY_ALERTS.name:
        at, what, status, detail = b["raised_at"], f"alert: {b['kind']}", "alert", b["detail"]
        return Lieferzeile(datetime.fromisoformat(at), what, None, None, status, str(detail))
    return Lieferzeile(
        datetime.fromisoformat(b["empfangen_am"]),
        f"{b['art']} {b['teil']}/{b['teile']}",
        int(b["anzahl_datensaetze"]),
        int(b["anzahl_entfernt"]),
        str(b["status"]),
        _text(b.get("grund")) or str(b.get("delivery_id", "")),
    )


def lieferprotokoll(records: Iterable[Record]) -> list[Lieferzeile]:
    """An office's deliveries as the register logged them (NMeldVO 2022 § 23 Abs. 3) and the
    alerts about them, in time order; records of another shape are skipped."""
    rows = []
    for s in records:
        try:
            rows.append(_lieferzeile(s))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return sorted(rows, key=lambda r: r.at)


# -- the data-protection team's cases ----------------------------------------------------------


@dataclass
class Fall:
    case_id: str
    tenant_id: str
    authority: str
    rule: str
    alert: str
    status: str
    steps: list[str]
    opened_at: datetime


def faelle(records: Iterable[Record]) -> list[Fall]:
    """Each case as its newest state says, oldest first (records of another shape skipped)."""
    newest: dict[str, Fall] = {}
    for s in records:
        b = s.body
        try:
            case = Fall(
                str(b["case_id"]),
                str(b["tenant_id"]),
                _text(b.get("authority_name")),
                str(b["alert"]["rule"]),
                str(b["alert"]["text"]),
                str(b["status"]),
                [f"{x['action']} ({x['operator_id']})" for x in b["steps"]],
                datetime.fromisoformat(b["opened_at"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        newest[case.case_id] = case
    return sorted(newest.values(), key=lambda c: c.opened_at)


# -- the registration offices' worklists ---------------------------------------------------------


@dataclass
class Bearbeitung:
    """A retrieval handed over for manual processing, as its newest state says."""

    case_id: str
    gemeindeschluessel: str
    grund: str
    anfragende_behoerde: str
    aktenzeichen: str
    status: str
    steps: list[str]
    antwort: str
    opened_at: datetime
    overdue: bool


def bearbeitungen(records: Iterable[Record], ags: str | None = None) -> list[Bearbeitung]:
    """Each case of the worklists (of one office, if given), oldest first; records of another
    shape are skipped."""
    newest: dict[str, Bearbeitung] = {}
    for s in records:
        b = s.body
        try:
            h = b["handover"]
            case = Bearbeitung(
                str(b["case_id"]),
                str(b["gemeindeschluessel"]),
                str(h["grund"]),
                str(h["anfragende"]["behoerde"]),
                str(h["anfragende"]["aktenzeichen"]),
                str(b["status"]),
                [f"{x['action']} ({x['operator_id']})" for x in b["steps"]],
                _text(b.get("antwort_vorgangsnummer")),
                datetime.fromisoformat(b["opened_at"]),
                b.get("overdue_since") is not None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if ags is None or case.gemeindeschluessel == ags:
            newest[case.case_id] = case
    return sorted(newest.values(), key=lambda c: c.opened_at)


@dataclass
class Mitteilung:
    """A notice of a request on a blocked person, and whether its letter went out."""

    vorgangsnummer: str
    gemeindeschluessel: str
    empfaenger: str
    anfragende_behoerde: str
    noticed_at: datetime
    letter: bool


def mitteilungen(
    notices: Iterable[Record], letters: Iterable[Record], ags: str | None = None
) -> list[Mitteilung]:
    """The notices (of one office, if given), oldest first, each with whether the worklist sent
    its letter; records of another shape are skipped. Neither address is shown."""
    sent = set()
    for r in letters:
        with contextlib.suppress(KeyError, TypeError, AttributeError):
            sent.add(str(r.body["notice_id"]))
    found: dict[str, Mitteilung] = {}
    for r in notices:
        b = r.body
        try:
            key = f"{b['vorgangsnummer']}/{b['ordnungsmerkmal']}/{b['empfaenger']}"
            notice = Mitteilung(
                str(b["vorgangsnummer"]),
                str(b["gemeindeschluessel"]),
                str(b["empfaenger"]),
                str(b["anfragende_behoerde"]),
                datetime.fromisoformat(b["noticed_at"]),
                key in sent,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if ags is None or notice.gemeindeschluessel == ags:
            found[key] = notice
    return sorted(found.values(), key=lambda n: n.noticed_at)


# -- training requests -------------------------------------------------------------------------


@dataclass
class Schulungswunsch:
    request_id: str
    tenant_id: str
    authority: str
    requested_by: str
    participants: int
    wish: str
    requested_at: datetime


def schulungswuensche(records: Iterable[Record]) -> list[Schulungswunsch]:
    """The training requests provisioning recorded, oldest first (refused ones are the
    requesters' to hear of, not the list's)."""
    found = []
    for s in records:
        b = s.body
        try:
            if b["recorded"] is not True:
                continue
            found.append(
                Schulungswunsch(
                    str(b["request_id"]),
                    str(b["tenant_id"]),
                    _text(b.get("authority_name")),
                    _text(b.get("requested_by_username")),
                    int(b["teilnehmende"]),
                    str(b["wunsch"]),
                    datetime.fromisoformat(b["requested_at"]),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return sorted(found, key=lambda w: w.requested_at)


# -- tenants ----------------------------------------------------------------------------------


def neueste_staende(records: Iterable[Record]) -> dict[str, dict[str, Any]]:
    """The newest state per tenant (highest version) of the compacted tenant topic."""
    newest: dict[str, dict[str, Any]] = {}
    for s in records:
        b = s.body
        tenant, version = b.get("tenant_id"), b.get("version", 0)
        if not tenant or not isinstance(tenant, str) or type(version) is not int:
            continue  # no tenant state: skipped
        if tenant not in newest or version >= newest[tenant].get("version", 0):
            newest[tenant] = b
    return newest


# -- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """Where a dead letter is: `<dlq topic>/<partition>/<offset>`."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Ref:
        topic, _, rest = text.partition("/")
        partition, _, offset = rest.partition("/")
        if not topic.endswith(DLQ_SUFFIX) or not partition.isdigit() or not offset.isdigit():
            raise InputError(
                f"{text!r} is not a dead letter reference: expected <topic>.dlq/<partition>/"
                "<offset>, as `meldespiegel dlq list` prints them"
            )
        return cls(topic, int(partition), int(offset))

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class Redrive:
    """A dead letter to be published back to where it came from."""

    ref: Ref
    topic: str
    key: str | None
    value: bytes
    headers: dict[str, str]


def redrive_of(record: Record, operator: str, now: datetime) -> Redrive:
    """The dead letter as it goes back: original bytes, key and CloudEvents headers (the same
    event id, so a consumer that meanwhile handled it drops the copy), with the error headers
    left out and the redrive noted."""
    letter = DeadLetter.of(record.headers)
    if letter is None:
        raise InputError(f"{record.ref} names no original topic (dlq_original_topic)")
    original = letter.original_topic
    headers = redrive_headers(record.headers)
    headers[REDRIVEN_FROM] = record.ref
    headers[REDRIVEN_BY] = operator
    headers[REDRIVEN_AT] = now.isoformat()
    ref = Ref(record.topic, record.partition, record.offset)
    return Redrive(ref, original, record.key, record.value, headers)


def zurueckgegeben(audit: Iterable[Record]) -> dict[str, dict[str, Any]]:
    """Dead letters already redriven, by reference, from the operators' audit topic."""
    return {
        s.body["dead_letter"]: s.body for s in audit if isinstance(s.body.get("dead_letter"), str)
    }


# -- topics and lag ---------------------------------------------------------------------------


@dataclass
class TopicRow:
    name: str
    partitions_wanted: int
    partitions_found: int | None
    retained: int = 0
    lag: dict[str, int] = field(default_factory=dict)


def lag_per_topic(
    committed: Mapping[tuple[str, int], int], ends: Mapping[tuple[str, int], int]
) -> dict[str, int]:
    """Records not yet consumed per topic, over the partitions the group has committed on."""
    lag: dict[str, int] = {}
    for (topic, partition), offset in committed.items():
        end = ends.get((topic, partition))
        if end is None or offset < 0:
            continue
        lag[topic] = lag.get(topic, 0) + max(0, end - offset)
    return lag


# -- client properties (--command-config) ---------------------------------------------------

# Kafka's own tools' and librdkafka's (kcat's) names for what the settings hold
PROPERTIES = {
    "bootstrap.servers": "kafka_bootstrap",
    "security.protocol": "kafka_security_protocol",
    "sasl.mechanism": "kafka_sasl_mechanism",
    "sasl.mechanisms": "kafka_sasl_mechanism",
    "sasl.username": "kafka_sasl_username",
    "sasl.password": "kafka_sasl_password",
    "ssl.ca.location": "kafka_ssl_cafile",
}
PROPERTY = re.compile(r"([^=:\s]+)\s*[=:]\s*(.*)$")
JAAS = re.compile(r'(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"')


def client_properties(text: str) -> dict[str, str]:
    """The settings a client properties file gives, as `kafka-topics.sh --command-config` reads
    it: `key=value` lines, `#` and `!` comments, and the username and password from a Java
    `sasl.jaas.config`. A key meldespiegel cannot honour is an error, not silently ignored."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = PROPERTY.match(line)
        if match is None:
            raise InputError(f"line {number}: expected key=value, got {line!r}")
        key, value = match.groups()
        if key == "sasl.jaas.config":
            pairs = {k: re.sub(r"\\(.)", r"\1", v) for k, v in JAAS.findall(value)}
            if set(pairs) != {"username", "password"}:
                raise InputError(f"line {number}: sasl.jaas.config without username and password")
            found["kafka_sasl_username"] = pairs["username"]
            found["kafka_sasl_password"] = pairs["password"]
        elif key in PROPERTIES:
            found[PROPERTIES[key]] = value
        else:
            known = ", ".join(sorted([*PROPERTIES, "sasl.jaas.config"]))
            raise InputError(f"line {number}: {key} is not supported; known are {known}")
    return found
