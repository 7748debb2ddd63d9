"""The portal's FastStream wiring: registrations, decisions, requests, the registers' answers,
released answers and statement requests in; requester states, credentials, register requests,
answers for the log and statements out; the requester API beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from services.portal import domain, service
from services.portal.service import Portal
from services.portal.store import PortalRecords, PortalStore
from shared.contract.events.abruf import Anfragende
from shared.contract.events.portal import (
    RegistrationDecision,
    RegistrationSubmitted,
    RequesterCommand,
    StatementRequested,
)
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.pki import LETTER_PUB, PORTAL_TOKEN_KEY, load_ed25519_key
from shared.platform.runtime import ServiceRuntime, each, utc_now
from shared.platform.settings import Settings

SERVICE = "portal"


class PortalSettings(Settings):
    portal_operators: list[str] = Field(
        default_factory=lambda: ["ops-verfahrensbetreuung"],
        description="operator ids allowed to approve or refuse registrations (JSON list)",
    )
    portal_initial_password_valid_days: int = Field(
        14, description="a requester's initial password expires after"
    )
    portal_answer_timeout_seconds: float = Field(
        30.0, description="a register that has not answered by then gives a technical error"
    )
    portal_timeout_check_seconds: float = Field(1.0, description="how often that is checked")
    portal_statement_check_seconds: float = Field(
        3600.0, description="how often the month just ended is looked at for its statements"
    )
    portal_postfach_days: float = Field(
        30.0, description="an answer not fetched by then is deleted with its key"
    )
    portal_fee_schedule: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='fees in cent per answering office: {"<AGS, Kreis, Land or *>": '
        '{"eindeutig": 700, "neutral": 700}} (JSON); the longest prefix applies',
    )
    portal_name: str = Field(
        "Melderegisterauskunftsportal", description="how the portal appears to the registers"
    )
    portal_address: str = Field("Göttinger Chaussee 259, 30459 Hannover")
    portal_contact: str = Field("portal@meldespiegel.example")
    portal_api_host: str = Field("127.0.0.1", description="requester API address")
    portal_api_port: int = Field(8084, description="requester API port (/portal/…)")


class PortalService(ServiceRuntime):
    def __init__(
        self, settings: PortalSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        s = self.portal_settings = settings or PortalSettings()
        super().__init__(SERVICE, "services.portal", s, clock)
        self.store: Callable[[Any], PortalRecords] = PortalStore  # tests: an in-memory one
        self.deps = Portal(
            operator_state=s.operator_state,
            operators=frozenset(s.portal_operators),
            seal_key=bytes.fromhex((s.pki_dir / LETTER_PUB).read_text().strip()),
            password_valid_days=s.portal_initial_password_valid_days,
            answer_within=timedelta(seconds=s.portal_answer_timeout_seconds),
            gebuehren=domain.gebuehrenordnung(s.portal_fee_schedule),
            token_key=load_ed25519_key(s.pki_dir / PORTAL_TOKEN_KEY),
            anfragende=Anfragende(
                behoerde=s.portal_name,
                anschrift=s.portal_address,
                erreichbarkeit=s.portal_contact,
                aktenzeichen="-",
                anlass="Einfache Melderegisterauskunft (§§ 44, 49 BMG)",
                verfahren=SERVICE,
            ),
        )
        self.every(s.portal_timeout_check_seconds, "portal timeouts", self.expire)
        self.every(s.portal_statement_check_seconds, "monthly statements", self.close_month)
        self.every(s.portal_statement_check_seconds, "unfetched answers", self.expire_postfach)

        @self.subscriber(Topics.PORTAL_REGISTRATION_SUBMITTED)
        async def on_registration(reg: RegistrationSubmitted, msg: KafkaMessage) -> None:
            """Checks a registration: its defects, or on to the operator's approval."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_registration(self.store(conn), reg, self.clock()),
            )

        @self.subscriber(Topics.PORTAL_REGISTRATION_DECISION)
        async def on_decision(d: RegistrationDecision, msg: KafkaMessage) -> None:
            """An approval creates the requester's account and sends its credentials."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_decision(
                    self.store(conn), d, self.deps, self.clock(), self.signer(msg)
                ),
            )

        @self.subscriber(Topics.PORTAL_REQUESTER_COMMAND)
        async def on_requester_command(cmd: RequesterCommand, msg: KafkaMessage) -> None:
            """An operator locks, unlocks, suspends or lifts a requester's account."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_requester_command(
                    self.store(conn), cmd, self.deps, self.clock(), self.signer(msg)
                ),
            )

        @self.batch_subscriber(Topics.PORTAL_REQUEST)
        async def on_requests(records: list[Any], msg: KafkaMessage) -> None:
            """Checks each request, gives its Vorgangsnummer and key, sends it to the register."""
            await self.consume_batch(
                msg,
                Topics.PORTAL_REQUEST,
                each(
                    lambda conn, _, req: service.handle_request(
                        self.store(conn), req, self.deps, self.clock()
                    )
                ),
            )

        @self.batch_subscriber(Topics.REGISTER_PORTAL_RESPONSE)
        async def on_responses(records: list[Any], msg: KafkaMessage) -> None:
            """Hands the registers' answers to protocol_log, which logs before it releases."""
            await self.consume_batch(
                msg,
                Topics.REGISTER_PORTAL_RESPONSE,
                each(
                    lambda conn, _, response: service.handle_response(
                        self.store(conn), response, self.clock()
                    )
                ),
            )

        @self.batch_subscriber(Topics.PORTAL_RELEASED)
        async def on_released(records: list[Any], msg: KafkaMessage) -> None:
            """Puts each released answer in its requester's mailbox and books the fee."""
            await self.consume_batch(
                msg,
                Topics.PORTAL_RELEASED,
                each(
                    lambda conn, _, released: service.handle_released(
                        self.store(conn), released, self.deps
                    )
                ),
            )

        @self.subscriber(Topics.PORTAL_STATEMENT_REQUESTED)
        async def on_statement_requested(cmd: StatementRequested, msg: KafkaMessage) -> None:
            """The statements of the month asked for (provisional while it runs)."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_statement_request(
                    self.store(conn), cmd, self.clock(), self.deps, self.signer(msg)
                ),
            )

    async def expire(self) -> None:
        await self.messaging.produce(lambda conn: service.expire(self.store(conn), self.clock()))

    async def expire_postfach(self) -> None:
        kept = timedelta(days=self.portal_settings.portal_postfach_days)
        await self.messaging.produce(
            lambda conn: service.expire_postfach(self.store(conn), self.clock(), kept)
        )

    async def close_month(self) -> None:
        await self.messaging.produce(
            lambda conn: service.close_month(self.store(conn), self.clock())
        )
