"""The authentication API the MiN front end calls, as plain ASGI endpoints beside FastStream.

POST /auth/login     {"username", "password"}
POST /auth/password  {"username", "current_password", "new_password"}
GET  /health
The TLS terminator passes the client certificate's SHA-256 fingerprint in the header
`X-Client-Cert-SHA256`. Every outcome is an audit event on `min.account.audit.v1`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from services.provisioning import service
from services.provisioning.store import ProvisioningStore
from shared.events.account import AuthOutcome
from shared.runtime import ServiceRuntime

CERT_HEADER = b"x-client-cert-sha256"
MAX_BODY = 16 * 1024
STATUS = {
    AuthOutcome.AUTHENTICATED: 200,
    AuthOutcome.PASSWORD_CHANGE_REQUIRED: 200,
    AuthOutcome.PASSWORD_CHANGED: 200,
    AuthOutcome.INVALID_CREDENTIALS: 401,
    AuthOutcome.PASSWORD_POLICY_VIOLATED: 400,
}  # every other outcome: 403
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[dict[str, Any], str | None], Awaitable[tuple[int, dict[str, Any]]]]


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def json_endpoint(handler: Handler, fields: tuple[str, ...]) -> Callable[..., Awaitable[None]]:
    """POST with a JSON object holding `fields` as strings; anything else is a 400, not a crash."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _respond(send, 405, {"error": "method not allowed"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await _respond(send, 413, {"error": "request too large"})
                return
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
                raise ValueError
        except ValueError:
            await _respond(send, 400, {"error": f"expected a JSON object with {', '.join(fields)}"})
            return
        headers = dict(scope.get("headers") or [])
        fingerprint = headers.get(CERT_HEADER, b"").decode("latin-1") or None
        status, answer = await handler(data, fingerprint)
        await _respond(send, status, answer)

    return endpoint


def routes(runtime: ServiceRuntime) -> list[tuple[str, Callable[..., Awaitable[None]]]]:
    async def login(data: dict[str, Any], fingerprint: str | None) -> tuple[int, dict[str, Any]]:
        result, _ = await runtime.messaging.run(
            lambda conn: service.login(
                ProvisioningStore(conn),
                data["username"],
                data["password"],
                fingerprint,
                runtime.clock(),
            )
        )
        decision, account = result.decision, result.account
        answer: dict[str, Any] = {"outcome": decision.outcome.value}
        if decision.admitted:
            answer.update(
                user_id=account.user_id,
                tenant_id=account.tenant_id,
                kind=account.kind.value,
                detail=decision.detail,
            )
        return STATUS.get(decision.outcome, 403), answer

    async def change_password(
        data: dict[str, Any], fingerprint: str | None
    ) -> tuple[int, dict[str, Any]]:
        change, _ = await runtime.messaging.run(
            lambda conn: service.change_password(
                ProvisioningStore(conn),
                data["username"],
                data["current_password"],
                data["new_password"],
                fingerprint,
                runtime.clock(),
            )
        )
        return STATUS.get(change.outcome, 403), {
            "outcome": change.outcome.value,
            "detail": change.detail,
        }

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200, {"status": "ok"})

    return [
        ("/auth/login", json_endpoint(login, ("username", "password"))),
        (
            "/auth/password",
            json_endpoint(change_password, ("username", "current_password", "new_password")),
        ),
        ("/health", health),
    ]
