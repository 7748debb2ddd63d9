"""The topic catalogue: the one place where topic names, their event schemas, keys, partitions and
retention are declared. Services refer to `Topics.X`, never to a name of their own spelling."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from pydantic import BaseModel

from shared.contract.events.abruf import (
    BlockNotice,
    QueryAnswered,
    QueryDelivered,
    QueryRejected,
    QueryRequested,
    RegisterHandover,
    RegisterRequest,
    RegisterResponse,
)
from shared.contract.events.account import (
    AccountCommand,
    AccountEvent,
    AccountProvisioned,
    AuthAudit,
    CredentialsIssued,
    ProvisioningRefused,
    TenantState,
    TrainingRecorded,
    TrainingRequested,
)
from shared.contract.events.application import (
    ApplicationAccepted,
    ApplicationIncomplete,
    ApplicationRefused,
    ApplicationSubmitted,
)
from shared.contract.events.betrieb import DashboardCheckpoint, Redriven
from shared.contract.events.cases import CaseCommand, CaseCommandRejected, CaseContact, CaseState
from shared.contract.events.mail import MailDispatched, MailFailed
from shared.contract.events.manuell import (
    ManualResponse,
    NoticeLetter,
    OfficeCase,
    OfficeCommand,
    OfficeCommandRejected,
    OfficeOverdue,
    OfficeRelease,
)
from shared.contract.events.portal import (
    PortalAnswered,
    PortalFetched,
    PortalReleased,
    PortalRequest,
    RegistrationDecision,
    RegistrationDecisionRejected,
    RegistrationSubmitted,
    RequesterCommand,
    RequesterCommandRejected,
    RequesterCredentials,
    RequesterCredentialsV1,
    RequesterState,
    Statement,
    StatementRequested,
)
from shared.contract.events.protocol import ProtocolAlert, ProtocolMetrics, SelfLogEntry
from shared.contract.events.register import DeliveryAlert, DeliveryLogged, RegisterDelivery
from shared.contract.events.review import (
    LoggingCommissioned,
    ManualDecision,
    ManualDecisionRejected,
    ReviewDecided,
    ReviewOverdue,
    ReviewPendingManual,
)
from shared.contract.events.verbund import GatewayRequest, GatewayResponse
from shared.contract.laender import LAENDER

DAY_MS = 24 * 60 * 60 * 1000
DLQ_SUFFIX = ".dlq"
DEFAULT_NAMESPACE = "min."
# every topic of the catalogue starts with it (the KafkaUsers' prefix ACLs); a second
# installation on the same cluster (another state's, in the tests) takes its own
NAMESPACE = os.environ.get("MELDESPIEGEL_TOPIC_NAMESPACE", DEFAULT_NAMESPACE)
if not re.fullmatch(r"[a-z][a-z0-9]*(\.[a-z0-9]+)*\.", NAMESPACE):
    raise ValueError(f"MELDESPIEGEL_TOPIC_NAMESPACE {NAMESPACE!r}: lowercase words ending in '.'")
# dead letters carry the original bytes plus the error, so they may exceed the source's limit
DLQ_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# a sealed answer of up to 1,000 persons (BMeldDAV § 1 Abs. 4) with its envelope
ANSWER_MAX_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event: type[BaseModel]
    event_type: str  # CloudEvents `ce_type` of every event on the topic
    key: str  # the event field whose value is the Kafka key (what orders the events)
    description: str
    writer: str = ""  # the one service (or outside party) that writes the topic
    partitions: int = 6
    retention_ms: int = 30 * DAY_MS
    compacted: bool = False
    consumed: bool = False  # a consumed topic gets a `.dlq` companion
    # consumed in batches (the query and portal paths' volume); compacted topics never are,
    # since their tombstones are handled one by one
    batched: bool = False
    # events larger than the service-wide limit, e.g. a result list of 1,000 persons
    max_event_bytes: int | None = None
    # an operator's command: signed by the operator who gives it, verified by the consumer
    # (`shared.platform.operator_signatures`)
    operator_command: bool = False

    def key_of(self, event: BaseModel) -> str:
        value: object = event
        for part in self.key.split("."):
            value = getattr(value, part)
        return str(value)

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    def configs(self) -> dict[str, str]:
        sized = {"max.message.bytes": str(self.max_event_bytes)} if self.max_event_bytes else {}
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": str(60_000), **sized}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), **sized}


class Topics:
    APPLICATION_SUBMITTED = TopicSpec(
        name="min.application.submitted.v1",
        event=ApplicationSubmitted,
        event_type="de.meldespiegel.application.submitted.v1",
        key="application_id",
        writer="upstream systems (scan, e-form)",
        description="Access applications as upstream systems (scan, e-form) deliver them.",
        retention_ms=90 * DAY_MS,
        consumed=True,
    )
    APPLICATION_ACCEPTED = TopicSpec(
        name="min.application.accepted.v1",
        event=ApplicationAccepted,
        event_type="de.meldespiegel.application.accepted.v1",
        key="application.application_id",
        writer="intake",
        description="Complete applications, handed on to legal review.",
        retention_ms=90 * DAY_MS,
        consumed=True,
    )
    APPLICATION_INCOMPLETE = TopicSpec(
        name="min.application.incomplete.v1",
        event=ApplicationIncomplete,
        event_type="de.meldespiegel.application.incomplete.v1",
        key="application_id",
        writer="intake",
        description="Applications with defects, each with a code and a sentence for the letter.",
        retention_ms=90 * DAY_MS,
        consumed=True,
    )
    APPLICATION_REFUSED = TopicSpec(
        name="min.application.refused.v1",
        event=ApplicationRefused,
        event_type="de.meldespiegel.application.refused.v1",
        key="application_id",
        writer="intake",
        description="Refused at intake: the role already has an application in review or approved.",
        retention_ms=90 * DAY_MS,
        consumed=True,
    )

    REVIEW_DECIDED = TopicSpec(
        name="min.review.decided.v1",
        event=ReviewDecided,
        event_type="de.meldespiegel.review.decided.v1",
        key="application_id",
        writer="legal_review",
        description="Legal decisions on applications: approved or rejected, with written reasons, "
        "signed by the operators who made them.",
        retention_ms=365 * DAY_MS,
        consumed=True,
    )
    REVIEW_PENDING_MANUAL = TopicSpec(
        name="min.review.pending-manual.v1",
        event=ReviewPendingManual,
        event_type="de.meldespiegel.review.pending-manual.v1",
        key="application_id",
        writer="legal_review",
        description="Cases waiting for an operator's signature: the rules' recommendation, or "
        "what an operator has to establish.",
        retention_ms=365 * DAY_MS,
    )
    REVIEW_MANUAL_DECISION = TopicSpec(
        name="min.review.manual-decision.v1",
        event=ManualDecision,
        event_type="de.meldespiegel.review.manual-decision.v1",
        key="application_id",
        writer="operators",
        description="Operators' signed decisions on waiting cases.",
        retention_ms=365 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    REVIEW_DECISION_REJECTED = TopicSpec(
        name="min.review.decision-rejected.v1",
        event=ManualDecisionRejected,
        event_type="de.meldespiegel.review.decision-rejected.v1",
        key="application_id",
        writer="legal_review",
        description="Manual decisions that could not be applied, and why.",
        retention_ms=90 * DAY_MS,
    )
    REVIEW_LOGGING_COMMISSIONED = TopicSpec(
        name="min.review.logging-commissioned.v1",
        event=LoggingCommissioned,
        event_type="de.meldespiegel.review.logging-commissioned.v1",
        key="application_id",
        writer="customer representatives",
        description="Commissions by security authorities for the operator to log their retrievals.",
        retention_ms=365 * DAY_MS,
        consumed=True,
    )
    REVIEW_OVERDUE = TopicSpec(
        name="min.review.overdue.v1",
        event=ReviewOverdue,
        event_type="de.meldespiegel.review.overdue.v1",
        key="application_id",
        writer="legal_review",
        description="Reminders and escalations for cases waiting past their deadline.",
        retention_ms=90 * DAY_MS,
    )
    ACCOUNT_PROVISIONED = TopicSpec(
        name="min.account.provisioned.v1",
        event=AccountProvisioned,
        event_type="de.meldespiegel.account.provisioned.v1",
        key="tenant_id",
        writer="provisioning",
        description="A tenant and its Hauptadministrator created, or a new administrator.",
        retention_ms=365 * DAY_MS,
        consumed=True,  # by alert_cases, which keeps whom to contact per tenant
    )
    ACCOUNT_PROVISIONING_REFUSED = TopicSpec(
        name="min.account.provisioning-refused.v1",
        event=ProvisioningRefused,
        event_type="de.meldespiegel.account.provisioning-refused.v1",
        key="application_id",
        writer="provisioning",
        description="Approved applications that could not be carried out, and why.",
        retention_ms=365 * DAY_MS,
        consumed=True,
    )
    ACCOUNT_CREDENTIALS = TopicSpec(
        name="min.account.credentials.v1",
        event=CredentialsIssued,
        event_type="de.meldespiegel.account.credentials.v1",
        key="tenant_id",
        writer="provisioning",
        description="Credentials to deliver; the password only sealed for mail_dispatch.",
        retention_ms=30 * DAY_MS,
        consumed=True,
    )
    ACCOUNT_COMMAND = TopicSpec(
        name="min.account.command.v1",
        event=AccountCommand,
        event_type="de.meldespiegel.account.command.v1",
        key="tenant_id",
        writer="tenant administrators, operators",
        description="Commands of tenant administrators and operators on accounts and tenants.",
        retention_ms=90 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    ACCOUNT_EVENT = TopicSpec(
        name="min.account.event.v1",
        event=AccountEvent,
        event_type="de.meldespiegel.account.event.v1",
        key="tenant_id",
        writer="provisioning",
        description="The result of every account command, applied or rejected with the reason.",
        retention_ms=365 * DAY_MS,
    )
    ACCOUNT_AUDIT = TopicSpec(
        name="min.account.audit.v1",
        event=AuthAudit,
        event_type="de.meldespiegel.account.audit.v1",
        key="username",
        writer="provisioning",
        description="Every login and password change with its outcome; never a password.",
        retention_ms=365 * DAY_MS,
    )
    TENANT_STATE = TopicSpec(
        name="min.tenant.state.v1",
        event=TenantState,
        event_type="de.meldespiegel.tenant.state.v1",
        key="tenant_id",
        writer="provisioning",
        description="Current state of every tenant (compacted): what retrieval authorises from.",
        compacted=True,
        consumed=True,
    )
    MAIL_DISPATCHED = TopicSpec(
        name="min.mail.dispatched.v1",
        event=MailDispatched,
        event_type="de.meldespiegel.mail.dispatched.v1",
        key="source_event_id",
        writer="mail_dispatch",
        description="E-mails accepted by the relay and letters put in the print spool.",
        retention_ms=365 * DAY_MS,
    )
    MAIL_FAILED = TopicSpec(
        name="min.mail.failed.v1",
        event=MailFailed,
        event_type="de.meldespiegel.mail.failed.v1",
        key="source_event_id",
        writer="mail_dispatch",
        description="Dispatches given up after their retries, with the last error.",
        retention_ms=365 * DAY_MS,
    )

    QUERY_REQUESTED = TopicSpec(
        name="min.query.requested.v1",
        event=QueryRequested,
        event_type="de.meldespiegel.query.requested.v1",
        key="query_id",
        writer="MiN front end, specialist applications, land_gateway",
        description="Queries from the MiN front end and specialist applications (§ 34a BMG).",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    REGISTER_RESPONSE = TopicSpec(
        name="min.register.response.v1",
        event=RegisterResponse,
        event_type="de.meldespiegel.register.response.v1",
        key="vorgangsnummer",
        writer="register_mirror, land_gateway",
        description="Registers' answers, sealed for the front end, with what the log needs.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
        max_event_bytes=ANSWER_MAX_BYTES,
    )
    QUERY_ANSWERED = TopicSpec(
        name="min.query.answered.v1",
        event=QueryAnswered,
        event_type="de.meldespiegel.query.answered.v1",
        key="vorgangsnummer",
        writer="query_router",
        description="Answered queries, not yet released: protocol_log logs, then releases them.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
        max_event_bytes=ANSWER_MAX_BYTES,
    )
    QUERY_REJECTED = TopicSpec(
        name="min.query.rejected.v1",
        event=QueryRejected,
        event_type="de.meldespiegel.query.rejected.v1",
        key="vorgangsnummer",
        writer="query_router",
        description="Refused queries and technical errors, with an XMeld-style reason code.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    QUERY_DELIVERED = TopicSpec(
        name="min.query.delivered.v1",
        event=QueryDelivered,
        event_type="de.meldespiegel.query.delivered.v1",
        key="query_id",
        writer="protocol_log",
        description="Released answers and refusals: each only after its protocol entry is durable.",
        retention_ms=7 * DAY_MS,
        max_event_bytes=ANSWER_MAX_BYTES,
    )
    GATEWAY_RELEASED = TopicSpec(
        name="min.gateway.released.v1",
        event=QueryDelivered,
        event_type="de.meldespiegel.gateway.released.v1",
        key="query_id",
        writer="protocol_log",
        description="Released answers and refusals to other states' queries (sealed for their "
        "front ends), after their protocol entry is durable, for land_gateway to send back.",
        retention_ms=7 * DAY_MS,
        max_event_bytes=ANSWER_MAX_BYTES,
        consumed=True,
    )
    REGISTER_HANDOVER = TopicSpec(
        name="min.register.handover.v1",
        event=RegisterHandover,
        event_type="de.meldespiegel.register.handover.v1",
        key="gemeindeschluessel",
        writer="register_mirror",
        description="Retrievals handed to the registration office for manual processing (§ 34a "
        "Abs. 5 BMG).",
        retention_ms=90 * DAY_MS,
        consumed=True,  # by office_worklist
    )
    REGISTER_BLOCK_NOTICE = TopicSpec(
        name="min.register.block-notice.v1",
        event=BlockNotice,
        event_type="de.meldespiegel.register.block-notice.v1",
        key="gemeindeschluessel",
        writer="register_mirror",
        description="Requests a blocked person, or the authority that had the block set, is told "
        "of (§ 51 Abs. 3, § 34 Abs. 5 BMG).",
        retention_ms=90 * DAY_MS,
        consumed=True,  # by office_worklist
    )
    OFFICE_CASE = TopicSpec(
        name="min.office.case.v1",
        event=OfficeCase,
        event_type="de.meldespiegel.office.case.v1",
        key="case_id",
        writer="office_worklist",
        description="The registration offices' worklists: each handed-over retrieval as it stands "
        "after each step (§ 34a Abs. 5 Satz 2 BMG).",
        retention_ms=365 * DAY_MS,
    )
    OFFICE_COMMAND = TopicSpec(
        name="min.office.command.v1",
        event=OfficeCommand,
        event_type="de.meldespiegel.office.command.v1",
        key="case_id",
        writer="registration offices' clerks",
        description="A clerk's signed decision on a case after the individual check (§ 51 Abs. 2 "
        "BMG): answer, or refuse.",
        retention_ms=365 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    OFFICE_COMMAND_REJECTED = TopicSpec(
        name="min.office.command-rejected.v1",
        event=OfficeCommandRejected,
        event_type="de.meldespiegel.office.command-rejected.v1",
        key="case_id",
        writer="office_worklist",
        description="Decisions on a case that could not be taken, with the reason.",
        retention_ms=365 * DAY_MS,
    )
    OFFICE_RELEASE = TopicSpec(
        name="min.office.release.v1",
        event=OfficeRelease,
        event_type="de.meldespiegel.office.release.v1",
        key="gemeindeschluessel",
        writer="office_worklist",
        description="A clerk's answer, for the register to make from the record under the "
        "answer's own Vorgangsnummer.",
        retention_ms=7 * DAY_MS,
        consumed=True,  # by register_mirror
    )
    REGISTER_MANUAL_RESPONSE = TopicSpec(
        name="min.register.manual-response.v1",
        event=ManualResponse,
        event_type="de.meldespiegel.register.manual-response.v1",
        key="case_id",
        writer="register_mirror",
        description="The register's answer to a clerk's release: the router hands it to "
        "protocol_log, the worklist closes the case.",
        retention_ms=7 * DAY_MS,
        consumed=True,  # by query_router and office_worklist
    )
    OFFICE_OVERDUE = TopicSpec(
        name="min.office.overdue.v1",
        event=OfficeOverdue,
        event_type="de.meldespiegel.office.overdue.v1",
        key="gemeindeschluessel",
        writer="office_worklist",
        description="Cases open longer than the office's deadline.",
        retention_ms=365 * DAY_MS,
    )
    OFFICE_NOTICE_LETTER = TopicSpec(
        name="min.office.notice-letter.v1",
        event=NoticeLetter,
        event_type="de.meldespiegel.office.notice-letter.v1",
        key="gemeindeschluessel",
        writer="office_worklist",
        description="Letters telling a blocked person, or the authority that had the block set, "
        "of a request (§ 51 Abs. 3, § 34 Abs. 5 BMG), for mail_dispatch to print.",
        retention_ms=90 * DAY_MS,
        consumed=True,  # by mail_dispatch
    )
    REGISTER_DELIVERY = TopicSpec(
        name="min.register.delivery.v1",
        event=RegisterDelivery,
        event_type="de.meldespiegel.register.delivery.v1",
        key="absender.gemeindeschluessel",
        writer="municipal registration offices",
        description="Municipalities' deliveries to the register: changes, full, empty "
        "(NMeldVO § 23).",
        retention_ms=14 * DAY_MS,
        consumed=True,
    )
    REGISTER_DELIVERY_LOG = TopicSpec(
        name="min.register.delivery-log.v1",
        event=DeliveryLogged,
        event_type="de.meldespiegel.register.delivery-log.v1",
        key="absender.gemeindeschluessel",
        writer="register_mirror",
        description="Every delivery as logged: office, time, kind, record count; or why refused.",
        retention_ms=365 * DAY_MS,
        consumed=True,  # by delivery_monitor
    )
    CASE_COMMAND = TopicSpec(
        name="min.case.command.v1",
        event=CaseCommand,
        event_type="de.meldespiegel.case.command.v1",
        key="case_id",
        writer="operators",
        description="The data-protection team's signed steps on a case: acknowledge, contact, "
        "restrict, close.",
        retention_ms=365 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    CASE_STATE = TopicSpec(
        name="min.case.state.v1",
        event=CaseState,
        event_type="de.meldespiegel.case.state.v1",
        key="case_id",
        writer="alert_cases",
        description="Cases opened by evaluation alerts, as they stand after each step.",
        retention_ms=365 * DAY_MS,
    )
    CASE_COMMAND_REJECTED = TopicSpec(
        name="min.case.command-rejected.v1",
        event=CaseCommandRejected,
        event_type="de.meldespiegel.case.command-rejected.v1",
        key="case_id",
        writer="alert_cases",
        description="Steps on a case that could not be taken, with the reason.",
        retention_ms=365 * DAY_MS,
    )
    CASE_CONTACT = TopicSpec(
        name="min.case.contact.v1",
        event=CaseContact,
        event_type="de.meldespiegel.case.contact.v1",
        key="case_id",
        writer="alert_cases",
        description="Mails to an authority about a case, for mail_dispatch (S/MIME).",
        retention_ms=365 * DAY_MS,
        consumed=True,
    )
    TENANT_TRAINING_REQUESTED = TopicSpec(
        name="min.tenant.training-requested.v1",
        event=TrainingRequested,
        event_type="de.meldespiegel.tenant.training-requested.v1",
        key="tenant_id",
        writer="tenant administrators (front end)",
        description="Tenants' requests for a training of their users.",
        retention_ms=365 * DAY_MS,
        consumed=True,
    )
    TENANT_TRAINING_RECORDED = TopicSpec(
        name="min.tenant.training-recorded.v1",
        event=TrainingRecorded,
        event_type="de.meldespiegel.tenant.training-recorded.v1",
        key="tenant_id",
        writer="provisioning",
        description="Training requests recorded for the Verfahrensbetreuung, or refused.",
        retention_ms=365 * DAY_MS,
    )
    REGISTER_DELIVERY_ALERTS = TopicSpec(
        name="min.register.delivery-alerts.v1",
        event=DeliveryAlert,
        event_type="de.meldespiegel.register.delivery-alerts.v1",
        key="absender.gemeindeschluessel",
        writer="delivery_monitor",
        description="Offices whose deliveries need attention: none within the day, refused, or "
        "far fewer persons (NMeldVO 2022 § 23 Abs. 2).",
        retention_ms=365 * DAY_MS,
    )
    PROTOCOL_SELF_LOGGING = TopicSpec(
        name="min.protocol.self-logging.v1",
        event=SelfLogEntry,
        event_type="de.meldespiegel.protocol.self-logging.v1",
        key="tenant_id",
        writer="protocol_log",
        description="Protocol entries of self-logging security authorities (§ 40 Abs. 3 BMG).",
        retention_ms=30 * DAY_MS,
    )
    PROTOCOL_METRICS = TopicSpec(
        name="min.protocol.metrics.v1",
        event=ProtocolMetrics,
        event_type="de.meldespiegel.protocol.metrics.v1",
        key="tenant_id",
        writer="protocol_log",
        description="Released answers per tenant and minute by kind, latency percentiles.",
        retention_ms=90 * DAY_MS,
    )
    PROTOCOL_ALERTS = TopicSpec(
        name="min.protocol.alerts.v1",
        event=ProtocolAlert,
        event_type="de.meldespiegel.protocol.alerts.v1",
        key="tenant_id",
        writer="protocol_log",
        description="Evaluation rules that fired (no personal data; users as pseudonyms).",
        retention_ms=365 * DAY_MS,
        consumed=True,  # each opens a case of alert_cases
    )
    PORTAL_REGISTRATION_SUBMITTED = TopicSpec(
        name="min.portal.registration.submitted.v1",
        event=RegistrationSubmitted,
        event_type="de.meldespiegel.portal.registration.submitted.v1",
        key="registration_id",
        writer="the portal's front end",
        description="Registrations of private requesters for simple registry information "
        "(PortalV § 2 Nr. 1).",
        retention_ms=90 * DAY_MS,
        consumed=True,
    )
    PORTAL_REQUESTER = TopicSpec(
        name="min.portal.requester.v1",
        event=RequesterState,
        event_type="de.meldespiegel.portal.requester.v1",
        key="registration_id",
        writer="portal",
        description="Each registration's state: defects, awaiting approval, approved, refused.",
        compacted=True,
    )
    PORTAL_REGISTRATION_DECISION = TopicSpec(
        name="min.portal.registration.decision.v1",
        event=RegistrationDecision,
        event_type="de.meldespiegel.portal.registration.decision.v1",
        key="registration_id",
        writer="operators",
        description="Operators' approvals and refusals of registrations.",
        retention_ms=365 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    PORTAL_REGISTRATION_DECISION_REJECTED = TopicSpec(
        name="min.portal.registration.decision-rejected.v1",
        event=RegistrationDecisionRejected,
        event_type="de.meldespiegel.portal.registration.decision-rejected.v1",
        key="registration_id",
        writer="portal",
        description="Decisions that could not be applied, with the reason.",
        retention_ms=90 * DAY_MS,
    )
    PORTAL_REQUESTER_COMMAND = TopicSpec(
        name="min.portal.requester-command.v1",
        event=RequesterCommand,
        event_type="de.meldespiegel.portal.requester-command.v1",
        key="registration_id",
        writer="operators",
        description="Operators lock, unlock, suspend and lift requesters' accounts.",
        retention_ms=365 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    PORTAL_REQUESTER_COMMAND_REJECTED = TopicSpec(
        name="min.portal.requester-command-rejected.v1",
        event=RequesterCommandRejected,
        event_type="de.meldespiegel.portal.requester-command-rejected.v1",
        key="registration_id",
        writer="portal",
        description="Requester commands that could not be applied, with the reason.",
        retention_ms=90 * DAY_MS,
    )
    PORTAL_CREDENTIALS = TopicSpec(
        name="min.portal.credentials.v2",
        event=RequesterCredentials,
        event_type="de.meldespiegel.portal.credentials.v2",
        key="registration_id",
        writer="portal",
        description="Requesters' credentials for mail_dispatch: account name by mail, sealed "
        "initial password by letter to the requester's Postanschrift.",
        retention_ms=30 * DAY_MS,
        consumed=True,
    )
    PORTAL_CREDENTIALS_V1 = TopicSpec(
        name="min.portal.credentials.v1",
        event=RequesterCredentialsV1,
        event_type="de.meldespiegel.portal.credentials.v1",
        key="registration_id",
        writer="portal before v2 (nothing writes it now)",
        description="Requesters' credentials in the portal's former address spelling: "
        "mail_dispatch works off what is left; the topic goes once it is empty.",
        retention_ms=30 * DAY_MS,
        consumed=True,
    )
    PORTAL_REQUEST = TopicSpec(
        name="min.portal.request.v1",
        event=PortalRequest,
        event_type="de.meldespiegel.portal.request.v1",
        key="kennung",
        writer="the portal's front end",
        description="Requests of registered requesters for simple registry information "
        "(§§ 44, 49 BMG).",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    MELDEREGISTER_REQUEST = TopicSpec(
        name="min.melderegister.request.v1",
        event=RegisterRequest,
        event_type="de.meldespiegel.melderegister.request.v1",
        key="vorgangsnummer",
        writer="portal",
        description="Portal requests for the operator's own state, to the registration offices' "
        "registers: the mirror may not answer private requesters (§ 5 Abs. 1 Satz 4 Nds. AG BMG).",
        partitions=3,
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    REGISTER_PORTAL_RESPONSE = TopicSpec(
        name="min.register.portal-response.v1",
        event=RegisterResponse,
        event_type="de.meldespiegel.register.portal-response.v1",
        key="vorgangsnummer",
        writer="register_mirror, land_gateway",
        description="Registers' answers to portal requests, sealed for each request's own key.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    PORTAL_ANSWERED = TopicSpec(
        name="min.portal.answered.v1",
        event=PortalAnswered,
        event_type="de.meldespiegel.portal.answered.v1",
        key="vorgangsnummer",
        writer="portal",
        description="Portal answers and refusals, not yet released: protocol_log logs them "
        "(PortalV § 3), then releases them.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    PORTAL_RELEASED = TopicSpec(
        name="min.portal.released.v1",
        event=PortalReleased,
        event_type="de.meldespiegel.portal.released.v1",
        key="vorgangsnummer",
        writer="protocol_log",
        description="Released portal answers (sealed for the request's key) and refusals.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    PORTAL_FETCHED = TopicSpec(
        name="min.portal.fetched.v1",
        event=PortalFetched,
        event_type="de.meldespiegel.portal.fetched.v1",
        key="vorgangsnummer",
        writer="portal",
        description="When a requester fetched an answer: protocol_log logs the time it was "
        "forwarded to the requester (PortalV § 3 Abs. 1 Nr. 3).",
        retention_ms=7 * DAY_MS,
        consumed=True,
    )
    PORTAL_STATEMENT_REQUESTED = TopicSpec(
        name="min.portal.statement-requested.v1",
        event=StatementRequested,
        event_type="de.meldespiegel.portal.statement-requested.v1",
        key="monat",
        writer="operators",
        description="Requests for a month's fee statements (finished months come by themselves).",
        retention_ms=90 * DAY_MS,
        consumed=True,
        operator_command=True,
    )
    PORTAL_STATEMENT = TopicSpec(
        name="min.portal.statement.v1",
        event=Statement,
        event_type="de.meldespiegel.portal.statement.v1",
        key="empfaenger",
        writer="portal",
        description="Monthly fee statements per requester and per registration office "
        "(§ 49 Abs. 3 Nr. 4 BMG).",
        retention_ms=400 * DAY_MS,
    )
    OPERATOR_REDRIVEN = TopicSpec(
        name="min.operator.redriven.v1",
        event=Redriven,
        event_type="de.meldespiegel.operator.redriven.v1",
        key="dlq_topic",
        writer="operators (meldespiegel dlq redrive)",
        description="Dead letters operators published back to their original topics.",
        partitions=1,
        retention_ms=365 * DAY_MS,
    )

    GATEWAY_REQUEST = TopicSpec(
        name="min.gateway.request.v1",
        event=GatewayRequest,
        event_type="de.meldespiegel.gateway.request.v1",
        key="vorgangsnummer",
        writer="other states' gateways (signed)",
        description="Other states' queries for this state's register (XMeld 1330/1332), for the "
        "bodies of their states (§ 39 Abs. 3 BMG).",
        retention_ms=7 * DAY_MS,
        consumed=True,
    )
    GATEWAY_RESPONSE = TopicSpec(
        name="min.gateway.response.v1",
        event=GatewayResponse,
        event_type="de.meldespiegel.gateway.response.v1",
        key="bezug",
        writer="other states' gateways (signed)",
        description="Other states' answers to this state's queries (XMeld 1331/1333), sealed for "
        "this state's front end.",
        retention_ms=7 * DAY_MS,
        consumed=True,
        max_event_bytes=ANSWER_MAX_BYTES,
    )

    DASHBOARD_CHECKPOINT = TopicSpec(
        name="min.dashboard.checkpoint.v1",
        event=DashboardCheckpoint,
        event_type="de.meldespiegel.dashboard.checkpoint.v1",
        key="reader",
        writer="dashboard",
        description="The dashboard's read model and read positions, for a quick restart "
        "(compacted: the newest per reader is kept).",
        partitions=1,
        compacted=True,
    )

    @staticmethod
    def register_request(land: str) -> TopicSpec:
        """The request topic of a state's register (or of its gateway)."""
        try:
            return REGISTER_REQUESTS[land]
        except KeyError:
            raise KeyError(f"no register request topic for Landesschlüssel {land!r}") from None


REGISTER_REQUESTS: dict[str, TopicSpec] = {
    land: TopicSpec(
        name=f"{NAMESPACE}register.request.{land}.v1",
        event=RegisterRequest,
        event_type="de.meldespiegel.register.request.v1",
        key="vorgangsnummer",
        description=f"Authorised queries and portal requests for the register of {name}.",
        writer="query_router, portal",
        partitions=3,
        retention_ms=7 * DAY_MS,
        consumed=True,
        batched=True,
    )
    for land, name in LAENDER.items()
}

if NAMESPACE != DEFAULT_NAMESPACE:  # the catalogue's names, in this installation's namespace
    for _attr, _spec in list(vars(Topics).items()):
        if isinstance(_spec, TopicSpec):
            _name = NAMESPACE + _spec.name.removeprefix(DEFAULT_NAMESPACE)
            setattr(Topics, _attr, replace(_spec, name=_name))


def in_namespace(spec: TopicSpec, namespace: str) -> TopicSpec:
    """A topic of the catalogue as another installation names it (another state's gateway)."""
    return replace(spec, name=namespace + spec.name.removeprefix(NAMESPACE))


CATALOGUE: tuple[TopicSpec, ...] = (
    *(v for v in vars(Topics).values() if isinstance(v, TopicSpec)),
    *REGISTER_REQUESTS.values(),
)


def by_name(name: str) -> TopicSpec:
    for spec in CATALOGUE:
        if spec.name == name:
            return spec
    raise KeyError(name)
