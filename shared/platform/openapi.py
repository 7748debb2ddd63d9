"""The OpenAPI 3.1 document of each HTTP API, made from what the API declares beside its routes: one
`Operation` per endpoint, its request body or query parameters as pydantic models. The API serves
it at `GET /openapi.json`; `python -m tools.contract write` keeps a copy in `docs/openapi/`.
A route without its operation, or an operation without its route, stops the service at start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel

from shared.platform.asgi import Endpoint, Receive, Scope, Send, respond_json


@dataclass(frozen=True)
class Operation:
    path: str
    method: Literal["get", "post"]
    summary: str
    responses: Mapping[int, str]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    bearer: bool = False  # an access token of the API's issuer
    client_certificate: bool = False  # the TLS terminator's X-Client-Cert-SHA256
    produces: Sequence[str] = ("application/json",)


@dataclass(frozen=True)
class Api:
    title: str
    description: str
    server: str
    operations: tuple[Operation, ...] = field(default_factory=tuple)


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "operationId": op.path[1:].replace("/", "_")}
    parameters: list[dict[str, Any]] = []
    if op.query is not None:
        for name, info in op.query.model_fields.items():
            prop = op.query.model_json_schema()["properties"][name]
            parameters.append({"name": name, "in": "query", "required": info.is_required(),
                               "description": info.description or "", "schema": prop})  # fmt: skip
    if op.client_certificate:
        parameters.append({"name": "X-Client-Cert-SHA256", "in": "header", "required": False,
                           "description": "SHA-256 fingerprint (hex) of the client certificate, "
                           "set by the TLS terminator", "schema": {"type": "string"}})  # fmt: skip
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, components)}},
        }
    if op.bearer:
        out["security"] = [{"bearer": []}]
    # a refusal answers {"error": …}, a sign-in its outcome and message; a malformed request is
    # a 400, a body too large a 413, another content type a 415, with every operation
    out["responses"] = {
        str(status): {
            "description": text,
            "content": {
                media: {"schema": {"type": "string"} if media == "text/csv" else {"type": "object"}}
                for media in (op.produces if status < 400 else ("application/json",))
            },
        }
        for status, text in sorted(({400: "a malformed request"} | dict(op.responses)).items())
    }
    return out


def document(api: Api) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for op in api.operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, components)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": api.title,
            "description": api.description,
            "version": metadata.version("meldespiegel"),
        },
        "servers": [{"url": api.server}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (EdDSA)",
                    "description": "access token of the authentication API (15 minutes)",
                }
            },
        },
    }
    return doc


def documented(api: Api, routes: list[tuple[str, Endpoint]]) -> list[tuple[str, Endpoint]]:
    """The routes and `GET /openapi.json`, once every route has its operation and every operation
    its route (`/health` aside, which probes call)."""
    served = {path for path, _ in routes} - {"/health"}
    declared = {op.path for op in api.operations}
    if served != declared:
        raise RuntimeError(
            f"{api.title}: routes without an operation {sorted(served - declared)}, "
            f"operations without a route {sorted(declared - served)}"
        )
    doc = document(api)

    async def openapi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await respond_json(send, 405, {"error": "GET only"})
            return
        await respond_json(send, 200, doc)

    return [*routes, ("/openapi.json", openapi)]
