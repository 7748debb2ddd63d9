"""The requester API of the portal (its own user management, PortalV § 1 Abs. 2), which the
portal's web front end calls:

POST /portal/anmeldung   {"kennung", "passwort"}: an access token (15 minutes), or the initial
                         password must be changed first
POST /portal/passwort    {"kennung", "passwort", "neues_passwort"}
GET  /portal/postfach    the answers ready to be fetched                     (Bearer token)
POST /portal/antwort     {"vorgangsnummer"}: the answer, sealed for the requester's key; fetching
                         it destroys the portal's only key to it              (Bearer token)
GET  /health

The token is signed with the portal's own key and names the Kennung; the mailbox and the fetch
believe nothing else, and check at each call that the account may still sign in (a lock or a
suspension ends the token's use at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from services.portal import service
from services.portal.service import PORTAL_ISSUER, Reply
from shared.platform.asgi import (
    JSON_MAX_BODY,
    BadRequest,
    Endpoint,
    IdentifiedEndpoint,
    Receive,
    Scope,
    Send,
    json_endpoint,
    read_json_object,
    respond_json,
    token_endpoint,
)
from shared.platform.openapi import Api, Operation, documented
from shared.platform.tokens import Identity

if TYPE_CHECKING:
    from services.portal.app import PortalService


class Anmeldung(BaseModel):
    kennung: str
    passwort: str


class Passwortaenderung(BaseModel):
    kennung: str
    passwort: str
    neues_passwort: str


class Abholung(BaseModel):
    vorgangsnummer: str


SIGN_IN = {200: "an access token, or password_change_required", 401: "wrong Kennung or password",
           403: "the account may not sign in (locked, not approved)"}  # fmt: skip
API = Api(
    title="meldespiegel portal: requester API",
    description="The portal's own user management for requesters of simple registry "
    "information (§§ 44, 49 BMG, PortalV § 1 Abs. 2): sign-in, the forced change of the initial "
    "password, the mailbox of answers ready to be fetched and the fetch itself, which returns "
    "the answer sealed (HPKE, RFC 9180) for the requester's key and logs the time of forwarding "
    "(PortalV § 3 Abs. 1 Nr. 3). The token is the portal's own and names the Kennung.",
    server="http://127.0.0.1:8084",
    operations=(
        Operation("/portal/anmeldung", "post", "Sign in", SIGN_IN, body=Anmeldung),
        Operation("/portal/passwort", "post", "Change the password", SIGN_IN
                  | {400: "the new password does not meet the rules"}, body=Passwortaenderung),
        Operation("/portal/postfach", "get", "The answers ready to be fetched",
                  {200: "the mailbox", 401: "sign in again"}, bearer=True),
        Operation("/portal/antwort", "post", "Fetch an answer (once)", {
            200: "the answer, sealed for the requester's key", 401: "sign in again",
            404: "no answer (any more) for this Vorgangsnummer"}, body=Abholung, bearer=True),
    ),
)  # fmt: skip


def routes(runtime: PortalService) -> list[tuple[str, Endpoint]]:
    public_key = runtime.deps.token_key.public_key()

    async def run(call: Any) -> Reply:
        async def effect(conn: Any) -> tuple[Reply, list[Any]]:
            return await call(runtime.store(conn)), []

        reply, _ = await runtime.messaging.run(effect)
        return reply

    async def anmeldung(data: dict[str, Any], _: str | None) -> Reply:
        return await run(
            lambda store: service.anmelden(
                store, data["kennung"], data["passwort"], runtime.clock(), runtime.deps
            )
        )

    async def passwort(data: dict[str, Any], _: str | None) -> Reply:
        return await run(
            lambda store: service.passwort_aendern(
                store, data["kennung"], data["passwort"], data["neues_passwort"], runtime.clock()
            )
        )

    async def postfach(identity: Identity, scope: Scope, receive: Receive, send: Send) -> None:
        status, body = await run(lambda store: service.postfach(store, identity, runtime.clock()))
        await respond_json(send, status, body)

    async def antwort(identity: Identity, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            data = await read_json_object(scope, receive, JSON_MAX_BODY)
        except BadRequest as exc:
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        nummer = data.get("vorgangsnummer")
        if not isinstance(nummer, str):
            await respond_json(send, 400, {"error": "expected a JSON object with vorgangsnummer"})
            return
        # the fetch publishes its time for the log (PortalV § 3 Abs. 1 Nr. 3)
        (status, body), _ = await runtime.messaging.run(
            lambda conn: service.abholen(runtime.store(conn), identity, nummer, runtime.clock())
        )
        await respond_json(send, status, body)

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    def signed_in(method: str, handle: IdentifiedEndpoint) -> Endpoint:
        return token_endpoint(method, handle, public_key, runtime.clock, issuer=PORTAL_ISSUER)

    return documented(API, [
        ("/portal/anmeldung", json_endpoint(anmeldung, Anmeldung)),
        ("/portal/passwort", json_endpoint(passwort, Passwortaenderung)),
        ("/portal/postfach", signed_in("GET", postfach)),
        ("/portal/antwort", signed_in("POST", antwort)),
        ("/health", health),
    ])  # fmt: skip
