"""The authentication API the MiN front end calls, as plain ASGI endpoints beside FastStream.

POST /auth/login     {"username", "password"}
POST /auth/password  {"username", "current_password", "new_password"}
GET  /health
The TLS terminator passes the client certificate's SHA-256 fingerprint in the header
`X-Client-Cert-SHA256`. Every outcome is an audit event on `min.account.audit.v1`.
"""

from __future__ import annotations

from typing import Any

from services.provisioning import service
from services.provisioning.app import Provisioning
from shared.platform.asgi import Endpoint, Receive, Scope, Send, json_endpoint, respond_json
from shared.platform.signin import http_status, message

CERT_HEADER = b"x-client-cert-sha256"


def routes(runtime: Provisioning) -> list[tuple[str, Endpoint]]:
    async def login(data: dict[str, Any], fingerprint: str | None) -> tuple[int, dict[str, Any]]:
        result, _ = await runtime.messaging.run(
            lambda conn: service.login(
                runtime.store(conn),
                data["username"],
                data["password"],
                fingerprint,
                runtime.clock(),
            )
        )
        decision, account = result.decision, result.account
        answer: dict[str, Any] = {"outcome": decision.outcome.value, "message": decision.message}
        if decision.admitted:
            answer.update(
                user_id=account.user_id,
                tenant_id=account.tenant_id,
                kind=account.kind.value,
                detail=decision.detail,
            )
        return http_status(decision.outcome), answer

    async def change_password(
        data: dict[str, Any], fingerprint: str | None
    ) -> tuple[int, dict[str, Any]]:
        change, _ = await runtime.messaging.run(
            lambda conn: service.change_password(
                runtime.store(conn),
                data["username"],
                data["current_password"],
                data["new_password"],
                fingerprint,
                runtime.clock(),
            )
        )
        return http_status(change.outcome), {
            "outcome": change.outcome.value,
            "message": message(change.outcome),
            "detail": change.detail,
        }

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    return [
        ("/auth/login", json_endpoint(login, ("username", "password"), CERT_HEADER)),
        (
            "/auth/password",
            json_endpoint(
                change_password, ("username", "current_password", "new_password"), CERT_HEADER
            ),
        ),
        ("/health", health),
    ]
