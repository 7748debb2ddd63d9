"""The registration offices' worklists. Pure rules, no I/O.

A retrieval that met an Auskunftssperre got the neutral answer and is handled "wie ein Ersuchen um
manuelle Datenübermittlung" (§ 34a Abs. 5 Satz 2 BMG): the register hands it over, and it waits
on the worklist of the office whose record it is. A clerk of that office decides after the
individual check of § 51 Abs. 2 BMG (the person heard; if unreachable and the block was set at a
security authority's request, that authority):
- danger excluded: the data go to the requester, made by the register from the record, under a
  Vorgangsnummer of their own, through the router and protocol_log (their own § 40 entry);
- danger not excluded: nothing goes out. The neutral answer the requester has is the notice
  § 51 Abs. 2 requires; a second message would tell a block from nobody.
A case decided takes no further decision. The notices of § 51 Abs. 3 and § 34 Abs. 5 BMG go out as
letters to the addresses the register holds; one without an address is kept and logged, for the
office to send by hand (`meldespiegel office notices --missing`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.contract.events.abruf import (
    Auskunftsart,
    BlockNotice,
    Ergebnisstatus,
    RegisterHandover,
    RegisterResponse,
)
from shared.contract.events.manuell import (
    Bearbeitungsschritt,
    Bearbeitungsstatus,
    NoticeLetter,
    OfficeCase,
    OfficeCommand,
    OfficeOverdue,
    OfficeRelease,
    OfficeStep,
)
from shared.contract.laender import land_of


def case_id(handover: RegisterHandover) -> str:
    return f"{handover.vorgangsnummer}/{handover.ordnungsmerkmal}"


def notice_id(notice: BlockNotice) -> str:
    return f"{notice.vorgangsnummer}/{notice.ordnungsmerkmal}/{notice.empfaenger.value}"


def clerk_role(gemeindeschluessel: str) -> str:
    """The certificate role of a clerk of one registration office: only its own cases."""
    return f"meldebehoerde-{gemeindeschluessel}"


def own_office(gemeindeschluessel: str, operator_state: str) -> bool:
    """The worklists are this state's offices'; another state's register hands over to its own."""
    return land_of(gemeindeschluessel) == operator_state


def opened(handover: RegisterHandover, now: datetime) -> OfficeCase:
    return OfficeCase(
        case_id=case_id(handover),
        gemeindeschluessel=handover.gemeindeschluessel,
        handover=handover,
        status=Bearbeitungsstatus.OPEN,
        opened_at=now,
        updated_at=now,
    )


def decision_refusal(case: OfficeCase | None, command: OfficeCommand) -> tuple[str, str] | None:
    """Why a clerk's decision cannot be taken on this case, if it cannot."""
    if case is None:
        return "UNKNOWN_CASE", f"Es gibt keinen Fall {command.case_id}."
    if case.status is not Bearbeitungsstatus.OPEN:
        return "CASE_DECIDED", f"Über den Fall {command.case_id} ist entschieden."
    if command.action is Bearbeitungsschritt.ANSWER:
        if case.handover.auskunftsart is Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT:
            return (
                "WRITTEN_ANSWER",
                "Eine einfache Melderegisterauskunft erteilt die Meldebehörde nach der "
                "Bearbeitung schriftlich (§ 44 BMG), nicht über den Abrufweg.",
            )
        if case.handover.anfrage is None:
            return (
                "REQUEST_MISSING",
                "Die Übergabe enthält die ursprüngliche Anfrage nicht; die Auskunft ist "
                "schriftlich zu erteilen.",
            )
    return None


def decided(
    case: OfficeCase, command: OfficeCommand, now: datetime, antwort: str | None
) -> OfficeCase:
    """The case after the clerk's decision; `antwort`: the answer's Vorgangsnummer."""
    step = OfficeStep(
        action=command.action, operator_id=command.operator_id, text=command.text, at=now
    )
    status = (
        Bearbeitungsstatus.RELEASED
        if command.action is Bearbeitungsschritt.ANSWER
        else Bearbeitungsstatus.REFUSED
    )
    return case.model_copy(
        update={
            "status": status,
            "steps": [*case.steps, step],
            "antwort_vorgangsnummer": antwort,
            "updated_at": now,
        }
    )


def release(case: OfficeCase, command: OfficeCommand, nummer: str, now: datetime) -> OfficeRelease:
    h = case.handover
    assert h.anfrage is not None  # decision_refusal checked it
    return OfficeRelease(
        vorgangsnummer=nummer,
        bezugsvorgang=h.vorgangsnummer,
        case_id=case.case_id,
        gemeindeschluessel=h.gemeindeschluessel,
        ordnungsmerkmal=h.ordnungsmerkmal,
        anfrage=h.anfrage,
        operator_id=command.operator_id,
        begruendung=command.text,
        released_at=now,
    )


def answered(case: OfficeCase, response: RegisterResponse, now: datetime) -> OfficeCase:
    """The register made the answer; it is on its way to protocol_log and the requester."""
    if response.nichterstellung is not None:
        ergebnis = response.nichterstellung.text
    elif response.ergebnisstatus is Ergebnisstatus.EINDEUTIG:
        ergebnis = "Auskunft erteilt"
    else:
        ergebnis = str(response.ergebnisstatus)
    return case.model_copy(
        update={"status": Bearbeitungsstatus.ANSWERED, "ergebnis": ergebnis, "updated_at": now}
    )


def overdue(case: OfficeCase, now: datetime, deadline: timedelta) -> OfficeOverdue | None:
    """The alert for a case still undecided after the deadline, once per case."""
    if case.status is not Bearbeitungsstatus.OPEN or case.overdue_since is not None:
        return None
    if now - case.opened_at < deadline:
        return None
    hours = deadline.total_seconds() / 3600
    return OfficeOverdue(
        case_id=case.case_id,
        gemeindeschluessel=case.gemeindeschluessel,
        opened_at=case.opened_at,
        deadline_hours=hours,
        text=f"Der Fall {case.case_id} der Meldebehörde {case.gemeindeschluessel} ist seit mehr "
        f"als {hours:g} Stunden unbearbeitet.",
        raised_at=now,
    )


def letter(notice: BlockNotice) -> NoticeLetter | None:
    """The notice's letter, or None if the register holds no address for its recipient."""
    if notice.anschrift is None:
        return None
    return NoticeLetter(
        notice_id=notice_id(notice),
        gemeindeschluessel=notice.gemeindeschluessel,
        vorgangsnummer=notice.vorgangsnummer,
        empfaenger=notice.empfaenger,
        an=notice.anschrift,
        anfragende_behoerde=notice.anfragende_behoerde,
        noticed_at=notice.noticed_at,
    )
