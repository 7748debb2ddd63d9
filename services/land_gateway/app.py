"""land_gateway's FastStream wiring: for each configured peer state, its request topic out; the
gateway topics in; the released answers to other states' queries (protocol_log releases those to
`min.gateway.released.v1`, not to the front end's topic)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import BaseModel, Field

from services.land_gateway import service
from services.land_gateway.domain import Peer
from services.land_gateway.store import Gateways, GatewayStore
from shared.contract.envelope import decode_headers
from shared.contract.events.abruf import QueryDelivered
from shared.contract.events.verbund import GatewayRequest, GatewayResponse
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.operator_signatures import GATEWAY, OperatorKey, Refusal, pinned
from shared.platform.pki import ANSWER_PUB, load_operator_key
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "land_gateway"


class PeerSetting(BaseModel):
    """A peer as configured: its gateway's certificate by fingerprint, or the certificate file it
    handed over at its registration."""

    namespace: str
    tenant_id: str
    verfahren: str
    certificate_fingerprint: str | None = None
    certificate_file: Path | None = None

    def peer(self) -> Peer:
        fingerprint = self.certificate_fingerprint
        if self.certificate_file is not None:
            cert = x509.load_pem_x509_certificate(self.certificate_file.read_bytes())
            fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
        if fingerprint is None:
            raise ValueError("a peer's gateway certificate: its fingerprint or its file")
        return Peer(
            namespace=self.namespace,
            tenant_id=self.tenant_id,
            verfahren=self.verfahren,
            certificate_fingerprint=fingerprint,
        )


class GatewaySettings(Settings):
    gateway_peers: dict[str, PeerSetting] = Field(
        default_factory=dict,
        description="other states' gateways by Landesschlüssel (JSON): the topic namespace each "
        "reads, this state's tenant and procedure there, its certificate's SHA-256 (or file)",
    )
    gateway_key: str | None = Field(
        None, description="the gateway's key in the PKI (default gateway-<operator state>)"
    )
    gateway_max_age_seconds: float = Field(
        60.0,
        description="a query older than this is not sent to another state (the router has "
        "given its technical error after its 30 s)",
    )
    gateway_keep_seconds: float = Field(
        86400.0, description="how long an answered exchange is kept, as keys only"
    )


class LandGateway(ServiceRuntime):
    def __init__(
        self, settings: GatewaySettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        s = settings or GatewaySettings()
        self.gateway_settings = s
        super().__init__(SERVICE, "services.land_gateway", s, clock)
        self.store: Callable[[Any], Gateways] = GatewayStore  # tests: an in-memory one
        self.peers: Mapping[str, Peer] = {
            land: peer.peer() for land, peer in s.gateway_peers.items() if land != s.operator_state
        }
        front_end_key = (s.pki_dir / ANSWER_PUB).read_text().strip()
        state = s.operator_state
        keys: list[OperatorKey] = []  # loaded at the first signature

        def sign(topic: str, record_key: bytes, headers: Mapping[str, str], body: bytes) -> dict:
            if not keys:
                keys.append(load_operator_key(s.pki_dir, s.gateway_key or f"gateway-{state}"))
            return keys[0].sign(GATEWAY, topic, record_key, headers, body)

        for land, peer in self.peers.items():
            self._outbound(land, peer, state, front_end_key, sign)

        @self.subscriber(Topics.GATEWAY_REQUEST)
        async def on_request(request: GatewayRequest, msg: KafkaMessage) -> None:
            """Another state's query, from its gateway: a query of its tenant here."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_inbound(
                    self.store(conn), request, self.fingerprint(msg), self.peers, state,
                    self.clock(),
                ),
            )  # fmt: skip

        @self.subscriber(Topics.GATEWAY_RELEASED)
        async def on_released(released: QueryDelivered, msg: KafkaMessage) -> None:
            """Another state's query, answered and logged here: back to its gateway."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_released(
                    self.store(conn), released, self.peers, state, sign, self.clock()
                ),
            )

        @self.subscriber(Topics.GATEWAY_RESPONSE)
        async def on_response(response: GatewayResponse, msg: KafkaMessage) -> None:
            """Another state's answer: the register response this state's router waits for."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_response(
                    self.store(conn), response, self.fingerprint(msg), self.peers, self.clock()
                ),
            )

        keep = timedelta(seconds=s.gateway_keep_seconds)
        self.every(s.personal_data_sweep_seconds, "answered exchanges", lambda: self.forget(keep))

    def _outbound(
        self, land: str, peer: Peer, state: str, front_end_key: str, sign: service.Sign
    ) -> None:
        requests = Topics.register_request(land)
        max_age = timedelta(seconds=self.gateway_settings.gateway_max_age_seconds)

        @self.batch_subscriber(requests)
        async def on_requests(records: list[Any], msg: KafkaMessage) -> None:
            """This state's queries for that state's register, to its gateway."""
            await self.consume_batch(
                msg,
                requests,
                lambda conn, items: service.handle_outbound(
                    self.store(conn), [i.event for i in items], land, peer, state,
                    front_end_key, sign, self.clock(), max_age,
                ),
            )  # fmt: skip

    def fingerprint(self, msg: KafkaMessage) -> str | Refusal:
        record = msg.raw_message
        headers = decode_headers(record.headers or ())
        return pinned(GATEWAY, record.topic, record.key, headers, record.value or b"")

    async def forget(self, keep: timedelta) -> None:
        await self.messaging.produce(
            lambda conn: service.forget(self.store(conn), self.clock() - keep)
        )
