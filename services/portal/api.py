"""The requester API of the portal (its own user management, PortalV § 1 Abs. 2), which the
portal's web front end calls:

POST /portal/anmeldung   {"kennung", "passwort"}: authenticated, or the initial password must
                         be changed first
POST /portal/passwort    {"kennung", "passwort", "neues_passwort"}
POST /portal/postfach    {"kennung", "passwort"}: the answers ready to be fetched
POST /portal/antwort     {"kennung", "passwort", "vorgangsnummer"}: the answer, sealed for the
                         requester's key; fetching it destroys the portal's only key to it
GET  /health
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.portal import service
from services.portal.service import Reply
from shared.platform.asgi import Endpoint, Receive, Scope, Send, json_endpoint, respond_json

if TYPE_CHECKING:
    from services.portal.app import PortalService


def routes(runtime: PortalService) -> list[tuple[str, Endpoint]]:
    async def run(call: Any) -> Reply:
        async def effect(conn: Any) -> tuple[Reply, list[Any]]:
            return await call(runtime.store(conn)), []

        reply, _ = await runtime.messaging.run(effect)
        return reply

    async def anmeldung(data: dict[str, Any], _: str | None) -> Reply:
        return await run(
            lambda store: service.anmelden(
                store, data["kennung"], data["passwort"], runtime.clock()
            )
        )

    async def passwort(data: dict[str, Any], _: str | None) -> Reply:
        return await run(
            lambda store: service.passwort_aendern(
                store, data["kennung"], data["passwort"], data["neues_passwort"], runtime.clock()
            )
        )

    async def postfach(data: dict[str, Any], _: str | None) -> Reply:
        return await run(
            lambda store: service.postfach(
                store, data["kennung"], data["passwort"], runtime.clock()
            )
        )

    async def antwort(data: dict[str, Any], _: str | None) -> Reply:
        # the fetch publishes its time for the log (PortalV § 3 Abs. 1 Nr. 3)
        reply, _ = await runtime.messaging.run(
            lambda conn: service.abholen(
                runtime.store(conn),
                data["kennung"],
                data["passwort"],
                data["vorgangsnummer"],
                runtime.clock(),
            )
        )
        return reply

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    login = ("kennung", "passwort")
    return [
        ("/portal/anmeldung", json_endpoint(anmeldung, login)),
        ("/portal/passwort", json_endpoint(passwort, (*login, "neues_passwort"))),
        ("/portal/postfach", json_endpoint(postfach, login)),
        ("/portal/antwort", json_endpoint(antwort, (*login, "vorgangsnummer"))),
        ("/health", health),
    ]
