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

from typing import Any, Literal

from pydantic import BaseModel, Field

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
from shared.platform.openapi import Api, Operation, documented
from shared.platform.signin import http_status, message
from shared.platform.tokens import Identity

CERT_HEADER = b"x-client-cert-sha256"


class Login(BaseModel):
    username: str
    password: str


class Refresh(BaseModel):
    refresh_token: str = Field(description="spent by this call; the answer holds the next")


class PasswordChange(BaseModel):
    username: str
    current_password: str = Field(description="the initial password from the letter, or the last")
    new_password: str


class AuditQuery(BaseModel):
    tenant_id: str = Field(description="the tenant whose accounts are audited")
    format: Literal["json", "csv"] = Field("json", description="json, or csv for a spreadsheet")


SIGN_IN = {
    200: "signed in: access and refresh token, or the outcome (e.g. password_change_required)",
    401: "wrong name or password, or a token that is spent or expired",
    403: "the account or tenant may not sign in (locked, suspended, certificate missing)",
}
API = Api(
    title="meldespiegel authentication API (provisioning)",
    description="Sign-in of the tenants' users and the operators: access tokens (EdDSA JWT, "
    "15 minutes) that the protocol read API and the operator commands believe, refresh tokens "
    "(used once, at most 8 hours), the forced change of the initial password, and the security "
    "audit of a tenant's accounts. Every outcome is an audit event on min.account.audit.v1.",
    server="http://127.0.0.1:8081",
    operations=(
        Operation("/auth/login", "post", "Sign in", SIGN_IN, body=Login, client_certificate=True),
        Operation("/auth/refresh", "post", "The next token pair", SIGN_IN, body=Refresh,
                  client_certificate=True),
        Operation("/auth/password", "post", "Change the password", {
            200: "changed", 400: "the new password does not meet the rules",
            401: "wrong current password", 403: "the account may not sign in"},
            body=PasswordChange, client_certificate=True),
        Operation("/accounts/audit", "get", "A tenant's accounts, status history and sign-ins", {
            200: "the audit (JSON, or CSV with format=csv)", 403: "neither operator nor the own "
            "administrator", 404: "no such tenant"}, query=AuditQuery, bearer=True,
            produces=("application/json", "text/csv")),
    ),
)  # fmt: skip


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

    return documented(
        API,
        [
            ("/auth/login", json_endpoint(login, Login, CERT_HEADER)),
            ("/auth/refresh", json_endpoint(refresh, Refresh, CERT_HEADER)),
            ("/auth/password", json_endpoint(change_password, PasswordChange, CERT_HEADER)),
            (
                "/accounts/audit",
                token_endpoint("GET", audit, runtime.deps.token_key.public_key(), runtime.clock),
            ),
            ("/health", health),
        ],
    )
