"""protocol_log's read API for operators and auditors, beside its consumers (the
`meldespiegel log …` commands use it; nothing else reads the log's tables):

GET  /protocol/verify   every chain against its checkpoints and retention cuts
POST /protocol/read     entries for a purpose of § 40 Abs. 5 BMG; the read itself is logged
                        {"reader": "operator:<id>" | "tenant:<id>", "purpose": …,
                         "tenant_id"?, "vorgangsnummer"?, "subject"?: {"gemeindeschluessel",
                         "ordnungsmerkmal"}, "since"?, "until"?}
GET  /health

Both protocol endpoints want `Authorization: Bearer <MELDESPIEGEL_PROTOCOL_API_TOKEN>`; without
a configured token they refuse every request. The API listens on loopback unless told otherwise.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from services.protocol_log import service
from services.protocol_log.domain import ReadRefused
from shared.contract.events.abruf import Treffer
from shared.contract.events.protocol import Zweck
from shared.platform.asgi import (
    BadRequest,
    Endpoint,
    Receive,
    Scope,
    Send,
    header,
    read_json_object,
    respond_json,
)
from shared.platform.broker import schema_violations

if TYPE_CHECKING:
    from services.protocol_log.app import ProtocolLog

MAX_BODY = 8 * 1024


class Leseanfrage(BaseModel):
    """A request to read the log: who reads, for which purpose, and which entries."""

    model_config = ConfigDict(extra="forbid")

    reader: str
    purpose: Zweck
    tenant_id: str | None = None
    vorgangsnummer: str | None = None
    subject: Treffer | None = None
    since: datetime | None = None
    until: datetime | None = None


def _authorised(scope: Scope, token: str) -> bool:
    given = header(scope, b"authorization") or ""
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def routes(runtime: ProtocolLog) -> list[tuple[str, Endpoint]]:
    token = runtime.protocol_settings.protocol_api_token.get_secret_value()

    def guarded(method: str, handle: Endpoint) -> Endpoint:
        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] != method:
                await respond_json(send, 405, {"error": f"{method} only"})
            elif not token:
                await respond_json(
                    send, 503, {"error": "no MELDESPIEGEL_PROTOCOL_API_TOKEN is configured"}
                )
            elif not _authorised(scope, token):
                await respond_json(send, 401, {"error": "a valid bearer token is required"})
            else:
                await handle(scope, receive, send)

        return endpoint

    async def verify(scope: Scope, receive: Receive, send: Send) -> None:
        async with runtime.messaging.pool.acquire() as conn, conn.transaction():
            chains = await service.verify(runtime.store(conn), runtime.signature_ok)
        await respond_json(send, 200, {"intact": not any(chains.values()), "chains": chains})

    async def read(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            anfrage = Leseanfrage.model_validate(await read_json_object(receive, MAX_BODY))
        except BadRequest as exc:
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        except ValidationError as exc:
            await respond_json(send, 400, {"error": schema_violations(exc)})
            return
        try:
            async with runtime.messaging.pool.acquire() as conn, conn.transaction():
                entries = await service.read(
                    runtime.store(conn),
                    reader=anfrage.reader,
                    purpose=anfrage.purpose,
                    now=runtime.clock(),
                    tenant_id=anfrage.tenant_id,
                    vorgangsnummer=anfrage.vorgangsnummer,
                    subject=anfrage.subject,
                    since=anfrage.since,
                    until=anfrage.until,
                )
        except ReadRefused as exc:
            await respond_json(send, 403, {"error": str(exc)})
            return
        await respond_json(send, 200, {"entries": entries})

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    return [
        ("/protocol/verify", guarded("GET", verify)),
        ("/protocol/read", guarded("POST", read)),
        ("/health", health),
    ]
