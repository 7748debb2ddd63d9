"""The authentication API the MiN front end calls, as plain ASGI endpoints beside FastStream.

POST /auth/login     {"username", "password"}: with the password changed and a matching client
                     certificate, a signed access token (15 min) and a refresh token
POST /auth/refresh   {"refresh_token"}: the next pair, if the account may still sign in (with the
                     client certificate it is bound to)
POST /auth/password  {"username", "current_password", "new_password"}
GET  /accounts/audit?tenant_id=…[&format=csv]   a tenant's users, status history, account
                     commands and sign-ins, for the operator's security audit (Bearer token of an
                     operator account, or of the tenant's own administrator)
GET  /health
The TLS terminator passes the client certificate's SHA-256 fingerprint in the header
`X-Client-Cert-SHA256`. Every outcome is an audit event on `min.account.audit.v1`.
"""

from __future__ import annotations

from typing import Any

from services.provisioning import domain, service
from services.provisioning.app import Provisioning
from shared.platform.asgi import (
    BadRequest,
    Endpoint,
    Receive,
    Scope,
    Send,
    json_endpoint,
    query_params,
    respond_json,
    respond_text,
    token_endpoint,
)
from shared.platform.csv_export import as_csv
from shared.platform.signin import http_status, message
from shared.platform.tokens import Identity

CERT_HEADER = b"x-client-cert-sha256"


def _answer(result: service.LoginResult) -> dict[str, Any]:
    decision, account = result.decision, result.account
    answer: dict[str, Any] = {"outcome": decision.outcome.value, "message": decision.message}
    if account is not None and (decision.admitted or result.tokens is not None):
        answer.update(
            user_id=account.user_id,
            tenant_id=account.tenant_id,
            kind=account.kind.value,
            detail=decision.detail,
        )
    if result.tokens is not None:
        identity = result.tokens.identity
        answer.update(
            token_type="Bearer",
            access_token=result.tokens.access_token,
            expires_at=identity.expires_at.isoformat(),
            refresh_token=result.tokens.refresh_token,
            roles=list(identity.roles),
            authorisations=list(identity.authorisations),
        )
    return answer


def routes(runtime: Provisioning) -> list[tuple[str, Endpoint]]:
    async def login(data: dict[str, Any], fingerprint: str | None) -> tuple[int, dict[str, Any]]:
        result, _ = await runtime.messaging.run(
            lambda conn: service.login(
                runtime.store(conn),
                data["username"],
                data["password"],
                fingerprint,
                runtime.clock(),
                runtime.deps,
            )
        )
        return http_status(result.decision.outcome), _answer(result)

    async def refresh(data: dict[str, Any], fingerprint: str | None) -> tuple[int, dict[str, Any]]:
        result, _out = await runtime.messaging.run(
            lambda conn: service.refresh(
                runtime.store(conn),
                data["refresh_token"],
                fingerprint,
                runtime.clock(),
                runtime.deps,
            )
        )
        return http_status(result.decision.outcome), _answer(result)

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

    async def audit(identity: Identity, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            params = query_params(scope)
        except BadRequest as exc:
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        tenant_id, fmt = params.get("tenant_id", ""), params.get("format", "json")
        if fmt not in ("json", "csv") or not tenant_id:
            await respond_json(send, 400, {"error": "tenant_id=… and format=json|csv"})
            return
        if not domain.may_audit(identity, tenant_id):
            await respond_json(send, 403, {"error": "an audit is the operator's, or the own"})
            return
        found, _ = await runtime.messaging.run(
            lambda conn: service.audit(runtime.store(conn), tenant_id, identity)
        )
        if found is None:
            await respond_json(send, 404, {"error": f"no tenant {tenant_id}"})
        elif fmt == "csv":
            text = as_csv(domain.audit_timeline(found), ("at", "what", "who", "detail"))
            await respond_text(send, 200, text, "text/csv")
        else:
            await respond_json(send, 200, found)

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "ok"})

    return [
        ("/auth/login", json_endpoint(login, ("username", "password"), CERT_HEADER)),
        ("/auth/refresh", json_endpoint(refresh, ("refresh_token",), CERT_HEADER)),
        (
            "/auth/password",
            json_endpoint(
                change_password, ("username", "current_password", "new_password"), CERT_HEADER
            ),
        ),
        (
            "/accounts/audit",
            token_endpoint("GET", audit, runtime.deps.token_key.public_key(), runtime.clock),
        ),
        ("/health", health),
    ]
