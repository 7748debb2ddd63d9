"""mail_dispatch's wiring: credentials and notices in; S/MIME mail, letters, dispatch events out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.mail_dispatch import domain, service
from services.mail_dispatch.domain import Plan
from services.mail_dispatch.render import Signer
from services.mail_dispatch.service import Dispatcher, Relay, SecretOpener, SmtpConnection
from services.mail_dispatch.store import Dispatches, DispatchStore, PendingMail
from shared.contract.deadletter import DeadLetter
from shared.contract.events.account import CredentialsIssued, ProvisioningRefused
from shared.contract.events.application import (
    ApplicationAccepted,
    ApplicationIncomplete,
    ApplicationRefused,
)
from shared.contract.events.cases import CaseContact
from shared.contract.events.manuell import NoticeLetter
from shared.contract.events.portal import (
    REQUESTER_CREDENTIAL_PURPOSE,
    RequesterCredentials,
    RequesterCredentialsV1,
)
from shared.contract.events.review import ReviewDecided
from shared.contract.topics import Topics, TopicSpec, by_name
from shared.platform.broker import KafkaMessage
from shared.platform.pki import LETTER_KEY, MAIL_CERT, MAIL_KEY, MAIL_SENDER
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.sealed import credential_context, load_private_key
from shared.platform.settings import Settings

SERVICE = "mail_dispatch"


class MailSettings(Settings):
    smtp_host: str = Field("127.0.0.1", description="SMTP relay")
    smtp_port: int = Field(2525, description="SMTP relay port (STARTTLS used when offered)")
    smtp_validate_certs: bool = Field(True, description="check the relay's TLS certificate")
    smtp_timeout_seconds: float = Field(30.0, description="per SMTP conversation")
    smtp_max_attempts: int = Field(6, description="attempts before a mail is given up")
    smtp_retry_base_seconds: float = Field(5.0, description="first retry delay, doubled per retry")
    mail_sender: str = Field(MAIL_SENDER, description="the From address; must match the cert")
    message_id_domain: str = Field("meldespiegel.example", description="right side of Message-IDs")
    mail_send_interval_seconds: float = Field(2.0, description="how often due mails are sent")


class MailDispatch(ServiceRuntime):
    def __init__(
        self, settings: MailSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.mail_settings = s = settings or MailSettings()
        super().__init__(SERVICE, "services.mail_dispatch", s, clock)
        self.store: Callable[[Any], Dispatches] = DispatchStore  # tests: an in-memory one
        self.deps = Dispatcher(
            signer=Signer.load(
                s.mail_sender,
                (s.pki_dir / MAIL_CERT).read_bytes(),
                (s.pki_dir / MAIL_KEY).read_bytes(),
            ),
            seal_key=load_private_key((s.pki_dir / LETTER_KEY).read_bytes()),
            spool=s.print_spool_dir,
            message_id_domain=s.message_id_domain,
        )
        self.smtp = SmtpConnection(
            Relay(
                s.smtp_host,
                s.smtp_port,
                s.smtp_validate_certs,
                s.smtp_timeout_seconds,
                s.smtp_max_attempts,
                s.smtp_retry_base_seconds,
            )
        )
        self.app.after_shutdown(self.smtp.close)
        self.every(s.mail_send_interval_seconds, "send due mail", self.send_due)

        @self.subscriber(Topics.ACCOUNT_CREDENTIALS)
        async def on_credentials(event: CredentialsIssued, msg: KafkaMessage) -> None:
            """Account mail and password letter, or the encrypted reset mail."""
            secret = service.opener(
                self.deps,
                event.sealed_secret,
                credential_context(event.user_id, event.purpose.value),
            )
            await self.dispatch(
                msg, Topics.ACCOUNT_CREDENTIALS, event, domain.credentials(event), secret
            )

        async def requester(
            msg: KafkaMessage, spec: TopicSpec, event: BaseModel, as_v2: RequesterCredentials
        ) -> None:
            # the event as it came (a dead letter keeps its bytes), the plan from its v2 form
            secret = service.opener(
                self.deps,
                as_v2.sealed_secret,
                credential_context(as_v2.kennung, REQUESTER_CREDENTIAL_PURPOSE),
            )
            await self.dispatch(msg, spec, event, domain.requester_credentials(as_v2), secret)

        @self.subscriber(Topics.PORTAL_CREDENTIALS)
        async def on_requester_credentials(event: RequesterCredentials, msg: KafkaMessage) -> None:
            """A portal requester's Kennung by mail and initial password by letter."""
            await requester(msg, Topics.PORTAL_CREDENTIALS, event, event)

        @self.subscriber(Topics.PORTAL_CREDENTIALS_V1)
        async def on_requester_credentials_v1(
            event: RequesterCredentialsV1, msg: KafkaMessage
        ) -> None:
            """What is left on the v1 topic, in v2's form."""
            upgraded = domain.upgrade_requester_credentials(event)
            await requester(msg, Topics.PORTAL_CREDENTIALS_V1, event, upgraded)

        @self.subscriber(Topics.CASE_CONTACT)
        async def on_case_contact(event: CaseContact, msg: KafkaMessage) -> None:
            """The data-protection team's mail about a case, to the authority's administrator."""
            await self.dispatch(msg, Topics.CASE_CONTACT, event, domain.case_contact(event))

        @self.subscriber(Topics.OFFICE_NOTICE_LETTER)
        async def on_notice_letter(event: NoticeLetter, msg: KafkaMessage) -> None:
            """A registration office's letter about a request on a blocked person."""
            await self.dispatch(
                msg, Topics.OFFICE_NOTICE_LETTER, event, domain.notice_letter(event)
            )

        @self.subscriber(Topics.APPLICATION_ACCEPTED)
        async def on_accepted(event: ApplicationAccepted, msg: KafkaMessage) -> None:
            """The receipt: complete, in legal review."""
            await self.dispatch(msg, Topics.APPLICATION_ACCEPTED, event, domain.received(event))

        @self.subscriber(Topics.APPLICATION_INCOMPLETE)
        async def on_incomplete(event: ApplicationIncomplete, msg: KafkaMessage) -> None:
            """Notice listing every defect."""
            await self.dispatch(msg, Topics.APPLICATION_INCOMPLETE, event, domain.incomplete(event))

        @self.subscriber(Topics.APPLICATION_REFUSED)
        async def on_refused(event: ApplicationRefused, msg: KafkaMessage) -> None:
            """Notice of a refusal at intake."""
            await self.dispatch(msg, Topics.APPLICATION_REFUSED, event, domain.refused(event))

        @self.subscriber(Topics.REVIEW_DECIDED)
        async def on_decided(event: ReviewDecided, msg: KafkaMessage) -> None:
            """Approval or rejection notice with the written decision."""
            await self.dispatch(msg, Topics.REVIEW_DECIDED, event, domain.decided(event))

        @self.subscriber(Topics.ACCOUNT_PROVISIONING_REFUSED)
        async def on_provisioning_refused(event: ProvisioningRefused, msg: KafkaMessage) -> None:
            """Notice that an approved access could not be set up."""
            await self.dispatch(
                msg, Topics.ACCOUNT_PROVISIONING_REFUSED, event, domain.provisioning_refused(event)
            )

    async def dispatch(
        self,
        msg: KafkaMessage,
        topic: TopicSpec,
        event: BaseModel,
        what: Plan,
        secret: SecretOpener | None = None,
    ) -> None:
        await self.consume(
            msg,
            lambda conn, env: service.handle(
                self.store(conn),
                what,
                env,
                topic.name,
                event.model_dump_json(),
                self.deps,
                self.clock(),
                secret,
            ),
        )
        await self.send_due(source_event_id=msg.headers.get("ce_id"))

    async def send_due(self, source_event_id: str | None = None) -> int:
        """Sends the due mails one by one; returns how many were tried. A mail that fails is
        rescheduled (no longer due) or, after its last attempt, dead-lettered."""
        tried = 0
        while await self._send_one(source_event_id) is not None:
            tried += 1
        return tried

    async def _send_one(self, source_event_id: str | None) -> PendingMail | None:
        async with self.smtp.lock:  # one conversation at a time on the shared connection
            mail, envelopes = await self.messaging.run(
                lambda conn: service.send_next(
                    self.store(conn),
                    self.smtp,
                    self.mail_settings.mail_sender,
                    self.clock(),
                    source_event_id,
                )
            )
        if mail is not None and any(e.type == Topics.MAIL_FAILED.event_type for e in envelopes):
            await self.dead_letter(mail)
        return mail

    async def dead_letter(self, mail: PendingMail) -> None:
        spec = by_name(mail.source_topic)
        await self.broker.publish(
            mail.source_payload.encode(),
            spec.dlq,
            key=mail.dispatch_id.encode(),
            headers={
                "ce_id": mail.source_event_id,
                "ce_type": spec.event_type,
                "ce_source": "/meldespiegel/mail_dispatch",
                "ce_specversion": "1.0",
                "content-type": "application/json",
                **DeadLetter(
                    error_type="MailDeliveryFailed",
                    error=json.dumps(
                        {"dispatch_id": mail.dispatch_id, "attempts": mail.attempts + 1}
                    ),
                    original_topic=mail.source_topic,
                    service=SERVICE,
                    failed_at=self.clock(),
                ).headers(),
            },
        )
