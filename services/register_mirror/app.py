"""register_mirror's FastStream wiring. One process plays one state's register: the operator's
own mirror (03 by default) or, configured with another Landesschlüssel, another state's register
or gateway behind the same topics; or, as `melderegister`, the registration offices' registers of
the operator's state that the portal forwards simple registry information to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import Field

from services.register_mirror import service
from services.register_mirror.domain import Register, Registerart
from services.register_mirror.store import RegisterRecords, RegisterStore
from shared.contract.events.abruf import RegisterRequest
from shared.contract.events.manuell import OfficeRelease
from shared.contract.events.register import RegisterDelivery
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.pki import ANSWER_PUB
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.sealed import seal
from shared.platform.settings import Settings

SERVICE = "register_mirror"


class RegisterSettings(Settings):
    register_state: str = Field(
        "03", pattern=r"^\d{2}$", description="Landesschlüssel of the register this process plays"
    )
    register_art: Registerart = Field(
        Registerart.MELDEREGISTERDATENSPIEGEL,
        description="the state's mirror, or the registration offices' registers (the portal's)",
    )
    log_retention_seconds: float = Field(
        300.0, description="how often the offices' log is swept for expired entries (§ 40 Abs. 5)"
    )


def service_name(land: str, art: Registerart = Registerart.MELDEREGISTERDATENSPIEGEL) -> str:
    """Consumer group and database schema of one register."""
    if art is Registerart.MELDEREGISTER:
        return f"melderegister_{land}"
    return f"{SERVICE}_{land}"


class RegisterMirror(ServiceRuntime):
    def __init__(
        self, settings: RegisterSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        s = settings or RegisterSettings()
        super().__init__(
            service_name(s.register_state, s.register_art), "services.register_mirror", s, clock
        )
        self.register = Register(s.register_state, s.operator_state, s.register_art)
        self.store: Callable[[Any], RegisterRecords] = RegisterStore  # tests: an in-memory one
        answer_key = bytes.fromhex((s.pki_dir / ANSWER_PUB).read_text().strip())

        def seal_answer(body: bytes, request: RegisterRequest) -> str:
            # a portal request brings its own key (PortalV § 4): only the portal can open it,
            # and only until it destroys that key on delivery; another state's query (which the
            # router lets bring one only from that state's central body) is sealed for that
            # state's front end, under that state's Vorgangsnummer
            key = bytes.fromhex(request.antwortschluessel) if request.antwortschluessel else None
            context = request.antwortkontext or request.vorgangsnummer
            return seal(key or answer_key, body, context.encode())

        if self.register.meldebehoerden:
            requests = Topics.MELDEREGISTER_REQUEST
            self.every(s.log_retention_seconds, "expired log entries", self.forget_log)
        else:
            requests = Topics.register_request(s.register_state)
        self.every(s.personal_data_sweep_seconds, "expired Identifikationsmerkmale", self.forget)

        @self.batch_subscriber(requests)
        async def on_requests(records: list[Any], msg: KafkaMessage) -> None:
            """Searches the register and answers with the sealed result."""
            await self.consume_batch(
                msg,
                requests,
                lambda conn, items: service.answer(
                    self.store(conn),
                    [item.event for item in items],
                    self.register,
                    self.clock(),
                    seal_answer,
                ),
            )

        @self.subscriber(Topics.OFFICE_RELEASE)
        async def on_release(release: OfficeRelease, msg: KafkaMessage) -> None:
            """Makes the answer a registration office's clerk released after manual processing."""
            await self.consume(
                msg,
                lambda conn, _: service.manual_answer(
                    self.store(conn), release, self.register, self.clock(), seal_answer
                ),
            )

        @self.subscriber(Topics.REGISTER_DELIVERY)
        async def on_delivery(delivery: RegisterDelivery, msg: KafkaMessage) -> None:
            """Applies and logs a municipality's delivery."""
            await self.consume(
                msg,
                lambda conn, _: service.ingest(
                    self.store(conn), delivery, self.register, self.clock()
                ),
            )

    async def forget(self) -> None:
        await self.messaging.produce(
            lambda conn: service.forget_merkmale(self.store(conn), self.clock())
        )

    async def forget_log(self) -> None:
        await self.messaging.produce(
            lambda conn: service.forget_auskunftsprotokoll(self.store(conn), self.clock())
        )
