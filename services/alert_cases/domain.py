"""Cases of the operator's data-protection team. Pure rules, no I/O.

An evaluation alert of the § 40 BMG log (protocol_log's rules: one user, one person, many queries;
a night burst; a day far above the user's own average) is a reason to look, not a finding: § 40
Abs. 5 Satz 3 BMG lets the operator use the log for the Datenschutzkontrolle, and the alert opens a
case for it. The team acknowledges it, asks the authority for a statement (an S/MIME mail to the
tenant's administrator), restricts the tenant while the matter is open (the seed: "IT.Niedersachsen
behält sich vor, ... den Zugang ggf. einzuschränken") and closes the case with the reason. Each step
is an event; a closed case takes no further step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contract.events.account import OperatorRole
from shared.contract.events.cases import (
    CaseCommand,
    CaseContact,
    CaseState,
    CaseStep,
    Fallschritt,
    Fallstatus,
)
from shared.contract.events.protocol import ProtocolAlert

# the roles whose operators take steps on a case: the data-protection team, and operations
ROLES = frozenset({OperatorRole.DATENSCHUTZ.value, OperatorRole.BETRIEB.value})


@dataclass(frozen=True)
class Contact:
    """Whom the authority's mail goes to: its administrator, as the approved application named."""

    email: str
    salutation: str | None
    surname: str | None
    smime_certificate_pem: str | None


def opened(alert: ProtocolAlert, authority_name: str | None, now: datetime) -> CaseState:
    return CaseState(
        case_id=alert.alert_id,
        tenant_id=alert.tenant_id,
        authority_name=authority_name,
        alert=alert,
        status=Fallstatus.OPEN,
        opened_at=now,
        updated_at=now,
    )


def step_refusal(case: CaseState | None, command: CaseCommand) -> tuple[str, str] | None:
    """Why a step cannot be taken on this case, if it cannot."""
    if case is None:
        return "UNKNOWN_CASE", f"Es gibt keinen Fall {command.case_id}."
    if case.status is Fallstatus.CLOSED:
        return "CASE_CLOSED", f"Der Fall {command.case_id} ist abgeschlossen."
    if command.action is Fallschritt.RESTRICT and not command.account_command_id:
        return (
            "ACCOUNT_COMMAND_MISSING",
            "Die Einschränkung nennt den signierten Kontobefehl, der den Mandanten einschränkt.",
        )
    return None


def taken(case: CaseState, command: CaseCommand, now: datetime) -> CaseState:
    """The case after a step: any step takes an open case on; closing ends it."""
    status = Fallstatus.CLOSED if command.action is Fallschritt.CLOSE else Fallstatus.ACKNOWLEDGED
    step = CaseStep(
        action=command.action,
        operator_id=command.operator_id,
        text=command.text,
        at=now,
        account_command_id=command.account_command_id,
    )
    return case.model_copy(
        update={"status": status, "steps": [*case.steps, step], "updated_at": now}
    )


def contact_mail(
    case: CaseState, contact: Contact, command: CaseCommand, now: datetime
) -> CaseContact:
    return CaseContact(
        case_id=case.case_id,
        tenant_id=case.tenant_id,
        authority_name=case.authority_name or "",
        to=contact.email,
        salutation=contact.salutation,
        surname=contact.surname,
        smime_certificate_pem=contact.smime_certificate_pem,
        text=command.text,
        alert_text=case.alert.text,
        operator_id=command.operator_id,
        at=now,
    )
