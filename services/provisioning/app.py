"""provisioning's wiring: approvals and account commands in; tenants, accounts, credentials, tenant
state out; the authentication API beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import Field

from services.provisioning import service
from services.provisioning.service import Provisioner
from services.provisioning.store import Accounts, ProvisioningStore
from shared.contract.events.account import TrainingRequested
from shared.contract.events.review import ReviewDecided
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.pki import LETTER_PUB, TOKEN_KEY, load_ed25519_key
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "provisioning"


class ProvisioningSettings(Settings):
    initial_password_valid_days: int = Field(14, description="an initial password expires after")
    operators: list[str] = Field(
        default_factory=lambda: ["ops-verfahrensbetreuung"],
        description="operator ids allowed to give account commands (JSON list)",
    )
    http_host: str = Field("127.0.0.1", description="authentication API address")
    http_port: int = Field(8081, description="authentication API port")


class Provisioning(ServiceRuntime):
    def __init__(
        self, settings: ProvisioningSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.provisioning_settings = settings or ProvisioningSettings()
        super().__init__(SERVICE, "services.provisioning", self.provisioning_settings, clock)
        self.store: Callable[[Any], Accounts] = ProvisioningStore  # tests: an in-memory one
        s = self.provisioning_settings
        self.deps = Provisioner(
            seal_key=bytes.fromhex((s.pki_dir / LETTER_PUB).read_text().strip()),
            password_valid_days=s.initial_password_valid_days,
            operators=frozenset(s.operators),
            token_key=load_ed25519_key(s.pki_dir / TOKEN_KEY),
        )

        @self.subscriber(Topics.REVIEW_DECIDED)
        async def on_review_decided(decided: ReviewDecided, msg: KafkaMessage) -> None:
            """An approval creates the tenant and its Hauptadministrator."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_decided(
                    self.store(conn), decided, self.clock(), self.deps
                ),
            )

        @self.subscriber(Topics.TENANT_TRAINING_REQUESTED)
        async def on_training_requested(request: TrainingRequested, msg: KafkaMessage) -> None:
            """Records a tenant's training request for the Verfahrensbetreuung, or refuses it."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_training(self.store(conn), request, self.clock()),
            )

        @self.subscriber(Topics.ACCOUNT_COMMAND)
        async def on_account_command(command: dict[str, Any], msg: KafkaMessage) -> None:
            """Applies an administrator's or operator's command (`AccountCommand`), or rejects
            it with the reason; a command that breaks the schema is rejected too, not only
            dead-lettered, so that its sender learns why."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_raw_command(
                    self.store(conn), command, self.clock(), self.deps, self.signer(msg)
                ),
            )
