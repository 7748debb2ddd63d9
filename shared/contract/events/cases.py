"""Cases of the operator's data-protection team: an evaluation alert of the § 40 BMG log opens a
case, and the team acknowledges it, contacts the authority, restricts its tenant and closes it;
every step is an event."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.base import Event
from shared.contract.events.protocol import ProtocolAlert


class Fallschritt(StrEnum):
    ACKNOWLEDGE = "acknowledge"  # the team has seen it and takes it on
    CONTACT = "contact"  # an S/MIME mail to the authority's administrator, from the template
    RESTRICT = "restrict"  # the tenant restricted (the operator's signed account command)
    CLOSE = "close"  # with the reason


class Fallstatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class CaseCommand(Event):
    """`min.case.command.v1`: a step an operator of the data-protection team takes on a case
    (signed with the operator's key)."""

    command_id: str = Field(min_length=1, max_length=80)
    case_id: str = Field(min_length=1)
    operator_id: str = Field(min_length=1)
    action: Fallschritt
    text: str = Field(
        min_length=1,
        max_length=4000,
        description="the reason; for contact, what the mail asks of the authority",
    )
    account_command_id: str | None = Field(
        None, description="for restrict: the signed account command that restricts the tenant"
    )


class CaseStep(Event):
    action: Fallschritt
    operator_id: str
    text: str
    at: datetime
    account_command_id: str | None = None


class CaseState(Event):
    """`min.case.state.v1`: a case as it stands after each step (the newest per case counts)."""

    case_id: str
    tenant_id: str
    authority_name: str | None = None
    alert: ProtocolAlert
    status: Fallstatus
    steps: list[CaseStep] = Field(default_factory=list)
    opened_at: datetime
    updated_at: datetime


class CaseCommandRejected(Event):
    """`min.case.command-rejected.v1`: a step that could not be taken, and why."""

    command_id: str
    case_id: str
    operator_id: str
    reason_code: str
    message: str


class CaseContact(Event):
    """`min.case.contact.v1`: the mail to an authority about a case, for mail_dispatch."""

    case_id: str
    tenant_id: str
    authority_name: str
    to: str
    salutation: str | None = None
    surname: str | None = None
    smime_certificate_pem: str | None = None
    text: str = Field(description="what the data-protection team asks of the authority")
    alert_text: str
    operator_id: str
    at: datetime
