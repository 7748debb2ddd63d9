"""The registration office's manual processing (§ 34a Abs. 5 Satz 2 BMG: a retrieval that met an
Auskunftssperre is handled "wie ein Ersuchen um manuelle Datenübermittlung").

The register hands the retrieval over (`min.register.handover.v1`, XMeld 1322 carries the
original request the same way); office_worklist keeps it on the office's worklist. A clerk of that
office decides after the individual check of § 51 Abs. 2 BMG (the person heard, or the authority
that had the block set): the data go to the requester, or nothing does. An answer is made by the
register from the record (`min.office.release.v1` → `min.register.manual-response.v1`) and reaches
the requester through the router and protocol_log like every answer, under a Vorgangsnummer of its
own and with its own § 40 entry. A refusal sends nothing: the neutral answer the requester has is
the notice § 51 Abs. 2 requires, and a second message would tell a block from nobody.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.abruf import (
    Benachrichtigter,
    RegisterHandover,
    RegisterRequest,
    RegisterResponse,
)
from shared.contract.events.account import Postanschrift
from shared.contract.events.base import Event


class Bearbeitungsschritt(StrEnum):
    ANSWER = "answer"  # danger excluded after the individual check: the data go to the requester
    REFUSE = "refuse"  # danger not excluded (§ 51 Abs. 2 BMG): nothing goes out


class Bearbeitungsstatus(StrEnum):
    OPEN = "open"
    RELEASED = "released"  # the clerk answered; the register makes the answer
    ANSWERED = "answered"  # the register's answer went to the release path
    REFUSED = "refused"


class OfficeCommand(Event):
    """`min.office.command.v1`: a clerk's decision on a case of the office's worklist, signed with
    the clerk's key (certificate role `meldebehoerde-<AGS>`)."""

    command_id: str = Field(min_length=1, max_length=80)
    case_id: str = Field(min_length=1)
    operator_id: str = Field(min_length=1, description="the clerk")
    action: Bearbeitungsschritt
    text: str = Field(
        min_length=1, max_length=4000, description="the result of the individual check"
    )


class OfficeStep(Event):
    action: Bearbeitungsschritt
    operator_id: str
    text: str
    at: datetime


class OfficeCase(Event):
    """`min.office.case.v1`: a case of an office's worklist as it stands after each step."""

    case_id: str = Field(description="<Vorgangsnummer>/<Ordnungsmerkmal>")
    gemeindeschluessel: str
    handover: RegisterHandover
    status: Bearbeitungsstatus
    steps: list[OfficeStep] = Field(default_factory=list)
    antwort_vorgangsnummer: str | None = Field(
        None, description="the Vorgangsnummer the clerk's answer travels under"
    )
    ergebnis: str | None = Field(None, description="the register's answer: status or reason")
    opened_at: datetime
    updated_at: datetime
    overdue_since: datetime | None = None


class OfficeCommandRejected(Event):
    """`min.office.command-rejected.v1`: a decision that could not be taken, and why."""

    command_id: str
    case_id: str
    operator_id: str
    reason_code: str
    message: str


class OfficeRelease(Event):
    """`min.office.release.v1`: the clerk's answer, for the register to make from the record."""

    vorgangsnummer: str = Field(description="the answer's own Vorgangsnummer")
    bezugsvorgang: str = Field(description="the Vorgangsnummer of the retrieval handed over")
    case_id: str
    gemeindeschluessel: str
    ordnungsmerkmal: str
    anfrage: RegisterRequest
    operator_id: str
    begruendung: str
    released_at: datetime


class ManualResponse(Event):
    """`min.register.manual-response.v1`: the register's answer to a clerk's release, for the
    router to hand to protocol_log and for the worklist to close the case."""

    vorgangsnummer: str
    bezugsvorgang: str
    case_id: str
    anfrage: RegisterRequest
    response: RegisterResponse


class OfficeOverdue(Event):
    """`min.office.overdue.v1`: a case open longer than the office's deadline."""

    case_id: str
    gemeindeschluessel: str
    opened_at: datetime
    deadline_hours: float
    text: str
    raised_at: datetime


class NoticeLetter(Event):
    """`min.office.notice-letter.v1`: the letter that tells a blocked person, or the authority that
    had the block set, of a request (§ 51 Abs. 3, § 34 Abs. 5 BMG), for mail_dispatch to print."""

    notice_id: str
    gemeindeschluessel: str
    vorgangsnummer: str
    empfaenger: Benachrichtigter
    an: Postanschrift
    anfragende_behoerde: str
    noticed_at: datetime
