"""protocol_log's read API for authorities, operators and auditors, beside its consumers (the
`meldespiegel log …` commands use it; nothing else reads the log's tables):

GET  /protocol/verify   every chain against its checkpoints and retention cuts (operator accounts)
POST /protocol/read     entries for a purpose of § 40 Abs. 5 Satz 3 BMG; the read itself is logged
                        {"purpose": …, "tenant_id"?, "vorgangsnummer"?, "kennung"?,
                         "subject"?: {"gemeindeschluessel", "ordnungsmerkmal"}, "since"?,
                         "until"?, "format"?: "json" | "csv"}
GET  /health

Both protocol endpoints want `Authorization: Bearer <access token>` from the authentication API
(`POST /auth/login`). Who reads, and what they may read, comes from the token alone
(`domain.reader_of`); an authority reads only its own retrievals. The API listens on loopback
unless told otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.protocol_log import domain, service
from services.protocol_log.domain import ReadRefused
from shared.contract.events.abruf import Treffer
from shared.contract.events.protocol import Zweck
from shared.platform.asgi import (
    BadRequest,
    Endpoint,
    IdentifiedEndpoint,
    Receive,
    Scope,
    Send,
    read_json_object,
    respond_json,
    respond_text,
    token_endpoint,
)
from shared.platform.broker import schema_violations
from shared.platform.csv_export import as_csv
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.openapi import Api, Operation, documented
from shared.platform.tokens import Identity

if TYPE_CHECKING:
    from services.protocol_log.app import ProtocolLog

MAX_BODY = 8 * 1024
log = get_logger(__name__)


class Leseanfrage(BaseModel):
    """A request to read the log: the purpose, and which entries. Who reads is the token's."""

    model_config = ConfigDict(extra="forbid")

    purpose: Zweck
    tenant_id: str | None = Field(None, max_length=64)
    vorgangsnummer: str | None = Field(None, max_length=64)
    kennung: str | None = Field(None, max_length=128, description="the retrieving person")
    subject: Treffer | None = None
    since: datetime | None = None
    until: datetime | None = None
    format: Literal["json", "csv"] = "json"


API = Api(
    title="meldespiegel protocol read API (protocol_log)",
    description="The § 40 BMG protocol log, read for a purpose of § 40 Abs. 5 Satz 3 BMG only "
    "(Datenschutzkontrolle, criminal proceedings arising from it, Betriebssicherung, information "
    "to the person concerned); every read is logged with its reader. Who reads, and which "
    "chains, comes from the access token alone: an authority reads its own retrievals, the "
    "operator's officers the operator's chains.",
    server="http://127.0.0.1:8083",
    operations=(
        Operation("/protocol/read", "post", "Entries for a purpose", {
            200: "the entries (JSON, or CSV with format=csv)",
            401: "sign in: a valid access token is required",
            403: "this reader may not read this for this purpose"},
            body=Leseanfrage, bearer=True, produces=("application/json", "text/csv")),
        Operation("/protocol/verify", "get", "Verify every chain", {
            200: "each chain's findings (none: intact)", 401: "sign in again",
            403: "verifying is the operator's"}, bearer=True),
    ),
)  # fmt: skip


def routes(runtime: ProtocolLog) -> list[tuple[str, Endpoint]]:
    def signed_in(method: str, handle: IdentifiedEndpoint) -> Endpoint:
        return token_endpoint(method, handle, runtime.token_key, runtime.clock)

    async def verify_chains(identity: Identity, scope: Scope, receive: Receive, send: Send) -> None:
        if not domain.may_verify(identity):
            await respond_json(send, 403, {"error": "verifying the chains is the operator's"})
            return

        async def check(conn: Any) -> tuple[dict[str, list[str]], list[Outgoing]]:
            return await service.verify(runtime.store(conn), runtime.signature_ok), []

        chains, _ = await runtime.messaging.run(check)
        await respond_json(send, 200, {"intact": not any(chains.values()), "chains": chains})

    async def read(identity: Identity, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            anfrage = Leseanfrage.model_validate(await read_json_object(scope, receive, MAX_BODY))
        except BadRequest as exc:
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        except ValidationError as exc:
            await respond_json(send, 400, {"error": schema_violations(exc)})
            return
        try:
            reader = domain.reader_of(identity, anfrage.tenant_id, anfrage.purpose)

            async def lookup(conn: Any) -> tuple[list[dict[str, Any]], list[Outgoing]]:
                entries = await service.read(
                    runtime.store(conn),
                    reader=reader,
                    purpose=anfrage.purpose,
                    now=runtime.clock(),
                    vorgangsnummer=anfrage.vorgangsnummer,
                    subject=anfrage.subject,
                    since=anfrage.since,
                    until=anfrage.until,
                    kennung=anfrage.kennung,
                )
                return entries, []

            entries, _ = await runtime.messaging.run(lookup)
        except ReadRefused as exc:
            log.info("protocol read refused", reader=identity.principal, reason=str(exc))
            await respond_json(send, 403, {"error": str(exc)})
            return
        if anfrage.format == "csv":
            await respond_text(send, 200, as_csv(entries, domain.CSV_COLUMNS_FIRST), "text/csv")
        else:
            await respond_json(send, 200, {"entries": entries})

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    return documented(API, [
        ("/protocol/verify", signed_in("GET", verify_chains)),
        ("/protocol/read", signed_in("POST", read)),
        ("/health", health),
    ])  # fmt: skip
