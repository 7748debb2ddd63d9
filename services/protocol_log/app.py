"""protocol_log's FastStream wiring: logs and releases answers and refusals; signs checkpoints,
enforces retention and publishes metrics on schedules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from services.protocol_log import service
from services.protocol_log.domain import AlertThresholds
from services.protocol_log.service import Evaluation
from services.protocol_log.store import ProtocolRecords, ProtocolStore
from shared.contract.events.portal import PortalFetched
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.messaging import BatchItem, Outgoing
from shared.platform.pki import (
    CHECKPOINT_KEY,
    CHECKPOINT_PUB,
    TOKEN_PUB,
    load_ed25519_key,
    load_ed25519_public_key,
)
from shared.platform.runtime import ServiceRuntime, each, utc_now
from shared.platform.settings import Settings

SERVICE = "protocol_log"


class ProtocolSettings(Settings):
    protocol_checkpoint_seconds: float = Field(60.0, description="how often chains are signed")
    protocol_retention_seconds: float = Field(
        300.0, description="how often expired entries are looked for (§ 40 Abs. 5 BMG)"
    )
    protocol_metrics_seconds: float = Field(10.0, description="how often metrics are published")
    alert_same_subject: int = Field(5, description="queries of one user for one person in 24 h")
    alert_night_burst: int = Field(20, description="queries of one user in 10 minutes at night")
    alert_volume_factor: float = Field(5.0, description="a user's day against their average")
    alert_volume_minimum: int = Field(200, description="… but at least this many")
    protocol_api_host: str = Field("127.0.0.1", description="where the read API listens")
    protocol_api_port: int = Field(8083, description="port of the read API (/protocol/…)")


def load_signing_key(pki_dir: Path) -> Ed25519PrivateKey:
    return load_ed25519_key(pki_dir / CHECKPOINT_KEY)


def signature_check(pki_dir: Path) -> Callable[[bytes, bytes], bool]:
    """Verifies with the public key alone, as an auditor would."""
    public = Ed25519PublicKey.from_public_bytes(
        bytes.fromhex((pki_dir / CHECKPOINT_PUB).read_text().strip())
    )

    def ok(message: bytes, signature: bytes) -> bool:
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return ok


def pseudonym_key(signing: Ed25519PrivateKey) -> bytes:
    raw = signing.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hashlib.sha256(b"meldespiegel protocol pseudonyms|" + raw).digest()


class ProtocolLog(ServiceRuntime):
    def __init__(
        self, settings: ProtocolSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        s = self.protocol_settings = settings or ProtocolSettings()
        super().__init__(SERVICE, "services.protocol_log", s, clock)
        self.store: Callable[[Any], ProtocolRecords] = ProtocolStore  # tests: an in-memory one
        self.signing_key = load_signing_key(s.pki_dir)
        self.signature_ok = signature_check(s.pki_dir)
        # the read API trusts a reader only as a token signed by the authentication API says
        self.token_key = load_ed25519_public_key(s.pki_dir / TOKEN_PUB)
        self.evaluation = Evaluation(
            AlertThresholds(
                s.alert_same_subject,
                s.alert_night_burst,
                s.alert_volume_factor,
                s.alert_volume_minimum,
            ),
            pseudonym_key(self.signing_key),
        )
        self.every(s.protocol_checkpoint_seconds, "protocol checkpoints", self.checkpoint)
        self.every(s.protocol_retention_seconds, "protocol retention", self.enforce_retention)
        self.every(s.protocol_retention_seconds, "protocol day partitions", self.ensure_days)
        self.every(s.protocol_metrics_seconds, "protocol metrics", self.publish_metrics)

        @self.batch_subscriber(Topics.QUERY_ANSWERED)
        async def on_answered(records: list[Any], msg: KafkaMessage) -> None:
            """Logs the retrievals durably, then releases the answers."""
            await self.consume_batch(msg, Topics.QUERY_ANSWERED, self._release)

        @self.batch_subscriber(Topics.QUERY_REJECTED)
        async def on_rejected(records: list[Any], msg: KafkaMessage) -> None:
            """Logs the refused queries, then releases the refusals."""
            await self.consume_batch(msg, Topics.QUERY_REJECTED, self._release)

        @self.batch_subscriber(Topics.PORTAL_ANSWERED)
        async def on_portal_answered(records: list[Any], msg: KafkaMessage) -> None:
            """Logs the portal's requests (PortalV § 3), then releases their answers."""
            await self.consume_batch(
                msg,
                Topics.PORTAL_ANSWERED,
                each(
                    lambda conn, _, event: service.release_portal(
                        self.store(conn), event, self.clock()
                    )
                ),
            )

        @self.subscriber(Topics.PORTAL_FETCHED)
        async def on_portal_fetched(event: PortalFetched, msg: KafkaMessage) -> None:
            """Logs when a requester fetched an answer (PortalV § 3 Abs. 1 Nr. 3)."""
            await self.consume(
                msg, lambda conn, _: service.log_fetch(self.store(conn), event, self.clock())
            )

    async def _release(
        self, conn: asyncpg.Connection, items: Sequence[BatchItem]
    ) -> list[list[Outgoing]]:
        return await service.release(
            self.store(conn), [item.event for item in items], self.clock(), self.evaluation
        )

    async def checkpoint(self) -> None:
        async def sign(conn: asyncpg.Connection) -> tuple[int, list[Outgoing]]:
            store = self.store(conn)
            return await service.checkpoint(store, self.signing_key.sign, self.clock()), []

        await self.messaging.run(sign)

    async def enforce_retention(self) -> None:
        async def drop_day(conn: asyncpg.Connection) -> tuple[int | None, list[Outgoing]]:
            store = self.store(conn)
            return await service.drop_due_day(store, self.signing_key.sign, self.clock()), []

        async def rest(conn: asyncpg.Connection) -> tuple[int, list[Outgoing]]:
            store = self.store(conn)
            return await service.enforce_retention(store, self.signing_key.sign, self.clock()), []

        # a day per transaction: the parent table is locked only for one drop
        while (await self.messaging.run(drop_day))[0] is not None:
            pass
        await self.messaging.run(rest)

    async def ensure_days(self) -> None:
        await self.messaging.produce(
            lambda conn: service.ensure_days(self.store(conn), self.clock())
        )

    async def start_resources(self) -> None:
        await super().start_resources()
        await self.ensure_days()  # before the consumers start and write the first entry

    async def publish_metrics(self) -> None:
        await self.messaging.produce(
            lambda conn: service.publish_metrics(self.store(conn), self.clock())
        )
