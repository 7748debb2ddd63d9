"""legal_review's handlers on FastStream's in-memory broker and a clock the test moves: the
rules' recommendations and the operators' signatures (one, or two under the four-eyes
principle), manual decisions and their refusals, commissions, reminders and escalations. Each test
runs twice: with the in-memory store (the fast tier, no Kafka, no PostgreSQL) and with the real
PostgreSQL store (marked integration), so that the fake answers as the tables do."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from services.intake.domain import assess
from services.legal_review.app import LegalReview, ReviewSettings
from shared.contract.envelope import Envelope
from shared.contract.events.application import ApplicationAccepted, ApplicationSubmitted
from shared.contract.events.review import Entscheidung, LoggingCommissioned, ManualDecision
from shared.contract.topics import Topics
from shared.platform.operator_signatures import COMMAND, OperatorKey
from shared.platform.pki import revoke_operator
from shared.platform.settings import get_settings
from tests.fakes.legal_review import MemoryReviewStore
from tests.helpers import application, database_url
from tests.identities import operator_key
from tests.inmemory import InMemory

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WATCH = (
    Topics.REVIEW_DECIDED,
    Topics.REVIEW_PENDING_MANUAL,
    Topics.REVIEW_DECISION_REJECTED,
    Topics.REVIEW_OVERDUE,
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def accepted(**changes: object) -> ApplicationAccepted:
    app_id = f"LR-{uuid.uuid4().hex[:10]}"
    complete = assess(ApplicationSubmitted.model_validate(application(app_id, **changes)))
    assert not isinstance(complete, list), complete
    return ApplicationAccepted(application=complete, accepted_at=START)


Review = Callable[..., InMemory]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def review(request: pytest.FixtureRequest) -> Review:
    def build(clock: Clock, **signing: Any) -> InMemory:
        deadlines = {"review_reminder_after_hours": 72, "review_escalation_after_hours": 168}
        deadlines |= signing  # review_signatures, review_auto_sign
        if request.param == "postgres":
            settings = ReviewSettings(database_url=database_url(), **deadlines)
            return InMemory(LegalReview(settings, clock=clock), *WATCH)
        store = MemoryReviewStore()
        service = LegalReview(ReviewSettings(**deadlines), clock=clock)
        service.store = lambda conn: store
        return InMemory(service, *WATCH, stores=[store])

    return build


MANUAL = {"network.channel": "sonstiger", "network.reason_if_other": "Außenstelle ohne Netz"}
COMMISSIONED = {
    "access_type": "sicherheitsbehoerde",
    "authority.kind": "polizei",
    "logging_arrangement": "auftragsverarbeitung",
}


def signature(
    event: ApplicationAccepted, operator: str, decision: str = "approved", reason: str = ""
) -> ManualDecision:
    return ManualDecision(
        application_id=event.application.application_id,
        operator_id=operator,
        decision=decision,
        reason=reason or "Der Empfehlung wird gefolgt.",
    )


async def test_the_rules_recommend_and_a_named_operator_signs_35a_vwvfg(review: Review) -> None:
    """§ 35a VwVfG: no law allows the approval to be issued fully automatically, so the rules'
    outcome is a recommendation until an operator signs it; the decision names who signed."""
    event = accepted()
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        [pending] = run.bodies(Topics.REVIEW_PENDING_MANUAL)
        assert pending["recommendation"] == "approved"
        assert pending["statement"].startswith("Zugang ist rechtlich zulässig: Ja.")
        assert (pending["awaiting"], pending["signatures"]) == ("signature", [])
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION, signature(event, "op-4711"),
            signed_by=operator_key("op-4711"),
        )  # fmt: skip
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["decision"] == "approved"
    assert (decided["decided_by"], decided["signatures"]) == ("op-4711", ["op-4711"])
    assert (decided["automatic"], decided["recommendation"]) == (False, "approved")
    assert decided["reasons"][0]["code"] == "SIGNED_AS_RECOMMENDED"
    assert decided["statement"].startswith("Zugang ist rechtlich zulässig: Ja.")
    assert decided["data_scope"] == "bmg_34_1_satz_1"
    assert decided["application"]["administrator"]["email"] == event.application.administrator.email


async def test_an_operator_decides_against_the_recommendation_with_reasons_of_their_own(
    review: Review,
) -> None:
    event = accepted()
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            signature(event, "op-1", "rejected", "Die Stelle ist aufgelöst (Erlass vom 3.11.)."),
            signed_by=operator_key("op-1"),
        )
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert (decided["decision"], decided["recommendation"]) == ("rejected", "approved")
    assert decided["reasons"][0]["text"] == "Die Stelle ist aufgelöst (Erlass vom 3.11.)."
    assert "Nein, weil" in decided["statement"]


async def test_automatic_signing_is_an_explicit_setting_and_the_decision_says_so(
    review: Review,
) -> None:
    """For demonstrations only: the rules' outcome stands without a signature, and the decision
    records that no person signed it; a case the rules leave open still waits for one."""
    event, open_case = accepted(), accepted(**MANUAL)
    async with review(Clock(), review_auto_sign=True) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        await run.deliver(Topics.APPLICATION_ACCEPTED, open_case)
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["application_id"] == event.application.application_id
    assert (decided["decided_by"], decided["automatic"], decided["signatures"]) == (
        "rules", True, [],
    )  # fmt: skip
    [pending] = run.bodies(Topics.REVIEW_PENDING_MANUAL)
    assert (pending["application_id"], pending["recommendation"]) == (
        open_case.application.application_id, None,
    )  # fmt: skip


async def test_four_eyes_a_second_person_countersigns_the_same_decision(review: Review) -> None:
    """With two signatures required: the first signer cannot countersign, a countersignature
    that differs withdraws the first (the case waits anew), two that agree decide it."""
    event = accepted()
    app_id = event.application.application_id
    async with review(Clock(), review_signatures=2) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)

        async def sign(operator: str, decision: str = "approved") -> None:
            await run.deliver(
                Topics.REVIEW_MANUAL_DECISION,
                signature(event, operator, decision, f"Geprüft von {operator}."),
                signed_by=operator_key(operator),
            )

        await sign("op-1")
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        countersign = run.bodies(Topics.REVIEW_PENDING_MANUAL)[-1]
        assert (countersign["awaiting"], countersign["signatures"]) == (
            "countersignature", ["op-1"],
        )  # fmt: skip
        await sign("op-1")  # the same person again
        await sign("op-2", "rejected")  # dissent: op-1's signature is withdrawn
        assert run.bodies(Topics.REVIEW_PENDING_MANUAL)[-1]["signatures"] == []
        await sign("op-2")
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        await sign("op-3")
    assert [r["reason_code"] for r in run.bodies(Topics.REVIEW_DECISION_REJECTED)] == [
        "SAME_OPERATOR",
        "DISSENT",
    ]
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["application_id"] == app_id
    assert (decided["decided_by"], decided["signatures"]) == ("op-2", ["op-2", "op-3"])
    assert decided["reasons"][0]["text"] == "Geprüft von op-2."


async def test_an_unsigned_recommendation_is_reminded_then_escalated(review: Review) -> None:
    clock = Clock()
    event = accepted()
    app_id = event.application.application_id
    async with review(clock) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        clock.now = START + timedelta(hours=72)
        await run.service.check_deadlines()
        clock.now = START + timedelta(hours=168)
        await run.service.check_deadlines()
    mine = [o for o in run.bodies(Topics.REVIEW_OVERDUE) if o["application_id"] == app_id]
    assert [(o["level"], o["waiting_for"]) for o in mine] == [
        ("reminder", "signature"),
        ("escalation", "signature"),
    ]


async def test_manual_case_is_decided_by_an_operator_once(review: Review) -> None:
    event = accepted(**MANUAL)
    app_id = event.application.application_id
    decision = ManualDecision(
        application_id=app_id,
        operator_id="op-4711",
        decision="approved",
        reason="Innenministerium stimmt zu (Az. 12).",
    )
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        [pending] = run.bodies(Topics.REVIEW_PENDING_MANUAL)
        assert pending["needed"][0]["code"] == "NETWORK_INDIVIDUAL_DECISION"
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION, decision, signed_by=operator_key("op-4711")
        )
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            decision.model_copy(update={"decision": Entscheidung.REJECTED, "reason": "doch nicht"}),
            signed_by=operator_key("op-4711"),
        )

    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["decision"] == "approved"
    assert decided["decided_by"] == "op-4711"
    assert decided["reasons"][0]["text"] == "Innenministerium stimmt zu (Az. 12)."
    [refused] = run.bodies(Topics.REVIEW_DECISION_REJECTED)
    assert refused["reason_code"] == "ALREADY_DECIDED"


async def test_operator_can_reject_a_manual_case(review: Review) -> None:
    event = accepted(**{"authority.kind": "sonstige_oeffentliche_stelle"})
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            ManualDecision(
                application_id=event.application.application_id,
                operator_id="op-1",
                decision="rejected",
                reason="Keine öffentliche Stelle nach § 2 BDSG.",
            ),
            signed_by=operator_key("op-1"),
        )
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["decision"] == "rejected"
    assert "Nein, weil" in decided["statement"]
    assert "§ 2 BDSG" in decided["reasons"][0]["provisions"]


async def test_manual_decision_for_unknown_or_waiting_case_is_answered_not_crashed(
    review: Review,
) -> None:
    waiting = accepted(**COMMISSIONED)
    async with review(Clock()) as run:
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            ManualDecision(
                application_id="LR-does-not-exist",
                operator_id="op-1",
                decision="approved",
                reason="x",
            ),
            signed_by=operator_key("op-1"),
        )
        await run.deliver(Topics.APPLICATION_ACCEPTED, waiting)
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            ManualDecision(
                application_id=waiting.application.application_id,
                operator_id="op-1",
                decision="approved",
                reason="x",
            ),
            signed_by=operator_key("op-1"),
        )
        await run.deliver(Topics.REVIEW_MANUAL_DECISION, {"application_id": "x"})  # malformed
    assert [r["reason_code"] for r in run.bodies(Topics.REVIEW_DECISION_REJECTED)] == [
        "UNKNOWN_CASE",
        "WAITING_FOR_LOGGING_COMMISSION",
    ]
    assert run.bodies(Topics.REVIEW_DECIDED) == []


async def test_commissioned_logging_waits_until_the_commission_arrives(review: Review) -> None:
    event = accepted(**COMMISSIONED)
    app_id = event.application.application_id
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        await run.deliver(
            Topics.REVIEW_LOGGING_COMMISSIONED,
            LoggingCommissioned(
                application_id=app_id,
                reference="AV-2026-0042",
                commissioned_at=START,
                recorded_by="kundenbeauftragte-7",
            ),
        )
        [recommendation] = run.bodies(Topics.REVIEW_PENDING_MANUAL)
        assert recommendation["recommendation"] == "approved"
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION, signature(event, "op-1"), signed_by=operator_key("op-1")
        )
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["decision"] == "approved"
    assert decided["data_scope"] == "bmg_34_1_satz_1_und_2"
    assert [c["code"] for c in decided["conditions"]] == ["COMMISSIONED_LOGGING"]


async def test_commission_arriving_first_lets_the_application_through_at_once(
    review: Review,
) -> None:
    event = accepted(**COMMISSIONED)
    async with review(Clock(), review_auto_sign=True) as run:
        await run.deliver(
            Topics.REVIEW_LOGGING_COMMISSIONED,
            LoggingCommissioned(
                application_id=event.application.application_id,
                reference="AV-1",
                commissioned_at=START,
                recorded_by="kb-1",
            ),
        )
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert decided["decision"] == "approved"


async def test_pending_case_past_its_deadline_is_reminded_then_escalated_once_each(
    review: Review,
) -> None:
    clock = Clock()
    event = accepted(**MANUAL)
    app_id = event.application.application_id
    async with review(clock) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        service = run.service
        clock.now = START + timedelta(hours=71)
        await service.check_deadlines()
        assert [o for o in run.bodies(Topics.REVIEW_OVERDUE) if o["application_id"] == app_id] == []
        clock.now = START + timedelta(hours=72)
        await service.check_deadlines()
        await service.check_deadlines()
        clock.now = START + timedelta(hours=168)
        await service.check_deadlines()
        await service.check_deadlines()
    mine = [o for o in run.bodies(Topics.REVIEW_OVERDUE) if o["application_id"] == app_id]
    assert [(o["level"], o["waiting_for"]) for o in mine] == [
        ("reminder", "manual_decision"),
        ("escalation", "manual_decision"),
    ]


async def test_a_manual_decision_in_another_operators_name_is_refused_and_changes_nothing(
    review: Review,
) -> None:
    """The decision names op-4711; unsigned, signed by someone else, signed by a reading role,
    signed with a certificate of no trusted CA, or changed after signing, it is refused with the
    reason and the case stays open; only op-4711's own signature decides it."""
    event = accepted(**MANUAL)
    app_id = event.application.application_id
    decision = ManualDecision(
        application_id=app_id, operator_id="op-4711", decision="approved", reason="Az. 12."
    )
    stranger = Ed25519PrivateKey.generate()
    untrusted = OperatorKey(stranger, _self_signed(stranger, "op-4711"))
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        await run.deliver(Topics.REVIEW_MANUAL_DECISION, decision)
        await run.deliver(Topics.REVIEW_MANUAL_DECISION, decision, signed_by=operator_key("op-1"))
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION,
            decision.model_copy(update={"operator_id": "dsb-1"}),
            signed_by=operator_key("dsb-1", "datenschutz"),
        )
        await run.deliver(Topics.REVIEW_MANUAL_DECISION, decision, signed_by=untrusted)
        await _deliver_altered(run, decision, operator_key("op-4711"))
        assert run.bodies(Topics.REVIEW_DECIDED) == []
        await run.deliver(
            Topics.REVIEW_MANUAL_DECISION, decision, signed_by=operator_key("op-4711")
        )
    assert [r["reason_code"] for r in run.bodies(Topics.REVIEW_DECISION_REJECTED)] == [
        "OPERATOR_NOT_PROVEN",
        "OPERATOR_MISMATCH",
        "OPERATOR_ROLE_NOT_ALLOWED",
        "OPERATOR_CERTIFICATE_UNTRUSTED",
        "OPERATOR_SIGNATURE_INVALID",
    ]
    [decided] = run.bodies(Topics.REVIEW_DECIDED)
    assert (decided["decision"], decided["decided_by"]) == ("approved", "op-4711")


def _self_signed(key: Ed25519PrivateKey, operator_id: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "betrieb"),
            x509.NameAttribute(NameOID.COMMON_NAME, operator_id),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, None)
    )


async def _deliver_altered(run: Any, decision: ManualDecision, key: OperatorKey) -> None:
    """Signed as it was, published with another decision in the body."""
    envelope = Envelope.new(
        source="/tests", type=Topics.REVIEW_MANUAL_DECISION.event_type, correlation_id=None
    )
    headers = envelope.to_headers()
    name, raw_key = Topics.REVIEW_MANUAL_DECISION.name, decision.application_id.encode()
    headers |= key.sign(COMMAND, name, raw_key, headers, decision.model_dump_json().encode())
    altered = decision.model_copy(update={"decision": Entscheidung.REJECTED})
    await run.broker.publish(altered.model_dump_json().encode(), name, key=raw_key, headers=headers)


async def test_a_decision_signed_with_a_revoked_certificate_is_refused(review: Review) -> None:
    """The operator CA's revocation list is read by the service at the next command."""
    event = accepted(**MANUAL)
    operator = f"op-revoked-{uuid.uuid4().hex[:6]}"
    key = operator_key(operator)
    revoke_operator(get_settings().pki_dir, operator)
    decision = ManualDecision(
        application_id=event.application.application_id,
        operator_id=operator,
        decision="approved",
        reason="Az. 12.",
    )
    async with review(Clock()) as run:
        await run.deliver(Topics.APPLICATION_ACCEPTED, event)
        await run.deliver(Topics.REVIEW_MANUAL_DECISION, decision, signed_by=key)
    [refused] = run.bodies(Topics.REVIEW_DECISION_REJECTED)
    assert refused["reason_code"] == "OPERATOR_CERTIFICATE_REVOKED"
    assert run.bodies(Topics.REVIEW_DECIDED) == []
