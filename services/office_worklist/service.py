"""office_worklist's handlers: hand-overs open cases, notices become letters, clerks' signed
decisions take the cases on, the register's answers close them, and a periodic look raises the
cases past the deadline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from services.office_worklist import domain
from services.office_worklist.store import Backlog, Worklists
from shared.contract.events.abruf import BlockNotice, RegisterHandover
from shared.contract.events.manuell import (
    Bearbeitungsschritt,
    Bearbeitungsstatus,
    ManualResponse,
    OfficeCase,
    OfficeCommand,
    OfficeCommandRejected,
)
from shared.contract.topics import Topics
from shared.law.vorgangsnummer import vorgangsnummer
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import Refusal, Signer, proven

log = get_logger(__name__)


def _state(case: OfficeCase) -> Outgoing:
    return Outgoing(Topics.OFFICE_CASE, case, subject=case.case_id)


async def handle_handover(
    store: Worklists, handover: RegisterHandover, operator_state: str, now: datetime
) -> Sequence[Outgoing]:
    """A retrieval handed over opens a case on its office's worklist (once per record)."""
    if not domain.own_office(handover.gemeindeschluessel, operator_state):
        log.info("another state's hand-over", gemeindeschluessel=handover.gemeindeschluessel)
        return []
    if await store.case(domain.case_id(handover)) is not None:
        return []
    case = domain.opened(handover, now)
    await store.save(case)
    log.info("case on the worklist", case_id=case.case_id, grund=handover.grund.value)
    return [_state(case)]


async def handle_notice(
    store: Worklists, notice: BlockNotice, operator_state: str
) -> Sequence[Outgoing]:
    """A notice of § 51 Abs. 3 / § 34 Abs. 5 BMG: kept, and its letter printed if the register
    gave an address; one without is kept (`mitteilung`, no letter) and logged as a warning, for
    the office to send by hand (`meldespiegel office notices --missing` lists them)."""
    if not domain.own_office(notice.gemeindeschluessel, operator_state):
        return []
    letter = domain.letter(notice)
    if not await store.add_notice(domain.notice_id(notice), notice, letter is not None):
        return []
    if letter is None:
        log.warning(
            "notice without an address",
            gemeindeschluessel=notice.gemeindeschluessel,
            empfaenger=notice.empfaenger.value,
        )
        return []
    return [Outgoing(Topics.OFFICE_NOTICE_LETTER, letter, subject=notice.gemeindeschluessel)]


def _rejected(command: OfficeCommand, code: str, message: str) -> Outgoing:
    return Outgoing(
        Topics.OFFICE_COMMAND_REJECTED,
        OfficeCommandRejected(
            command_id=command.command_id,
            case_id=command.case_id,
            operator_id=command.operator_id,
            reason_code=code,
            message=message,
        ),
        subject=command.case_id,
    )


async def handle_command(
    store: Worklists,
    command: OfficeCommand,
    signer: Signer | Refusal,
    operator_state: str,
    now: datetime,
) -> Sequence[Outgoing]:
    """A clerk's decision, if a clerk of the case's office signed it: the case's new state, and
    for an answer the release to the register under a new Vorgangsnummer."""
    if await store.command_seen(command.command_id):
        return []
    case = await store.case(command.case_id, lock=True)
    refusal = domain.decision_refusal(case, command)
    if refusal is None:
        assert case is not None
        role = domain.clerk_role(case.gemeindeschluessel)
        not_proven = proven(signer, command.operator_id, roles=frozenset({role}))
        if not_proven:
            refusal = (not_proven.code, not_proven.message)
    if refusal is not None:
        code, message = refusal
        await store.record_command(command.command_id, command.case_id, code, now)
        log.warning("decision refused", case_id=command.case_id, reason_code=code)
        return [_rejected(command, code, message)]
    assert case is not None
    answer = command.action is Bearbeitungsschritt.ANSWER
    nummer = vorgangsnummer(operator_state, now) if answer else None
    after = domain.decided(case, command, now, nummer)
    await store.save(after)
    await store.record_command(command.command_id, case.case_id, command.action.value, now)
    log.info("case decided", case_id=case.case_id, action=command.action.value, antwort=nummer)
    out = [_state(after)]
    if nummer is not None:
        release = domain.release(after, command, nummer, now)
        out.append(Outgoing(Topics.OFFICE_RELEASE, release, subject=case.gemeindeschluessel))
    return out


async def handle_manual_response(
    store: Worklists, manual: ManualResponse, now: datetime
) -> Sequence[Outgoing]:
    """The register made the clerk's answer: the case is closed with its outcome."""
    case = await store.case(manual.case_id, lock=True)
    if case is None or case.status is not Bearbeitungsstatus.RELEASED:
        return []
    after = domain.answered(case, manual.response, now)
    await store.save(after)
    return [_state(after)]


async def check_overdue(
    store: Worklists,
    now: datetime,
    deadline: timedelta,
    observe: Callable[[list[Backlog]], None],
) -> list[Outgoing]:
    """Raises each case undecided past the deadline once, and reports each office's backlog."""
    out: list[Outgoing] = []
    for case in await store.due(now - deadline):
        alert = domain.overdue(case, now, deadline)
        if alert is None:
            continue
        after = case.model_copy(update={"overdue_since": now, "updated_at": now})
        await store.save(after)
        log.warning("case overdue", case_id=case.case_id)
        out += [
            Outgoing(Topics.OFFICE_OVERDUE, alert, subject=case.gemeindeschluessel),
            _state(after),
        ]
    observe(await store.backlog())
    return out
