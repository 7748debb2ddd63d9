"""alert_cases' handlers: alerts open cases, approvals and provisioning tell whom to contact,
and the team's signed commands take the steps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.alert_cases import domain
from services.alert_cases.domain import Contact
from services.alert_cases.store import Cases
from shared.contract.events.account import AccountProvisioned
from shared.contract.events.cases import CaseCommand, CaseCommandRejected, Fallschritt
from shared.contract.events.protocol import ProtocolAlert
from shared.contract.events.review import Entscheidung, ReviewDecided
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import Refusal, Signer, proven

log = get_logger(__name__)


async def handle_alert(store: Cases, alert: ProtocolAlert, now: datetime) -> Sequence[Outgoing]:
    """An evaluation alert opens a case (once: the case bears the alert's id)."""
    if await store.case(alert.alert_id) is not None:
        return []
    case = domain.opened(alert, await store.authority_of(alert.tenant_id), now)
    await store.save(case)
    log.info("case opened", case_id=case.case_id, rule=alert.rule.value)
    return [Outgoing(Topics.CASE_STATE, case, subject=case.case_id)]


async def handle_decided(store: Cases, decided: ReviewDecided) -> Sequence[Outgoing]:
    """An approval names the administrator the authority's mails go to."""
    if decided.decision is Entscheidung.APPROVED:
        adm = decided.application.administrator
        salutation = str(adm.salutation) if adm.salutation else None
        contact = Contact(adm.email, salutation, adm.surname, adm.smime_certificate_pem)
        await store.add_contact(decided.application_id, contact)
    return []


async def handle_provisioned(store: Cases, done: AccountProvisioned) -> Sequence[Outgoing]:
    await store.add_tenant(done.tenant_id, done.application_id, done.authority_name)
    return []


def _rejected(command: CaseCommand, code: str, message: str) -> Outgoing:
    return Outgoing(
        Topics.CASE_COMMAND_REJECTED,
        CaseCommandRejected(
            command_id=command.command_id,
            case_id=command.case_id,
            operator_id=command.operator_id,
            reason_code=code,
            message=message,
        ),
        subject=command.case_id,
    )


async def handle_command(
    store: Cases, command: CaseCommand, signer: Signer | Refusal, now: datetime
) -> Sequence[Outgoing]:
    """A step the team takes, if the operator it names signed it: the new state of the case, and
    for contact the mail to the authority."""
    if await store.command_seen(command.command_id):
        return []
    not_proven = proven(signer, command.operator_id, roles=domain.ROLES)
    case = await store.case(command.case_id, lock=True)
    refusal = (
        (not_proven.code, not_proven.message) if not_proven else domain.step_refusal(case, command)
    )
    contact = None
    if refusal is None and command.action is Fallschritt.CONTACT:
        assert case is not None
        contact = await store.contact_of(case.tenant_id)
        if contact is None:
            refusal = ("NO_CONTACT", "Für diesen Mandanten ist keine Anschrift bekannt.")
    if refusal is not None:
        code, message = refusal
        await store.record_command(command.command_id, command.case_id, code, now)
        log.warning("case step refused", case_id=command.case_id, reason_code=code)
        return [_rejected(command, code, message)]
    assert case is not None
    after = domain.taken(case, command, now)
    await store.save(after)
    await store.record_command(command.command_id, command.case_id, command.action.value, now)
    log.info("case step", case_id=case.case_id, action=command.action.value)
    out = [Outgoing(Topics.CASE_STATE, after, subject=case.case_id)]
    if command.action is Fallschritt.CONTACT:
        assert contact is not None
        mail = domain.contact_mail(after, contact, command, now)
        out.append(Outgoing(Topics.CASE_CONTACT, mail, subject=case.case_id))
    return out
