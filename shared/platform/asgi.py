"""The small HTTP APIs some services serve beside their consumers (plain ASGI under uvicorn):
JSON answers, bounded JSON request bodies, and a uvicorn server that exits like every service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel

from shared.platform.logging import get_logger
from shared.platform.tokens import ISSUER, Identity, TokenRefused, bearer, verify

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]
log = get_logger(__name__)


class BadRequest(ValueError):
    """The request cannot be served; `status` says why (400, 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def respond_bytes(send: Send, status: int, content_type: str, raw: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(raw)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def respond_json(send: Send, status: int, body: Any) -> None:
    raw = json.dumps(body, ensure_ascii=False, default=str).encode()
    await respond_bytes(send, status, "application/json; charset=utf-8", raw)


async def respond_text(send: Send, status: int, text: str, media_type: str = "text/plain") -> None:
    await respond_bytes(send, status, f"{media_type}; charset=utf-8", text.encode())


MAX_JSON_DEPTH = 16  # deeper than any request of ours; deeper still is refused, not recursed


def _is_json(scope: Scope) -> bool:
    media = (header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _unusable_text(text: str) -> bool:
    """NUL and other control characters (a tab or line break aside) and lone surrogates: no
    name, password or filter of ours holds them, and the database cannot store some of them."""
    return any(
        (ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF
        for c in text
    )


def _check_json(data: Any) -> None:
    """Walks the parsed body without recursion: refuses nesting deeper than MAX_JSON_DEPTH and
    text a service cannot use."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(400, f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            if _unusable_text(value):
                raise BadRequest(400, "the body holds control characters or invalid Unicode")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _unusable_text(key):
                    raise BadRequest(400, "the body holds control characters or invalid Unicode")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


async def read_body(receive: Receive, max_bytes: int) -> bytes:
    """The request body; BadRequest (413) as soon as it grows past `max_bytes`."""
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > max_bytes:
            raise BadRequest(413, "request too large")
    return body


async def read_json_object(scope: Scope, receive: Receive, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; BadRequest for anything else: another content type
    (415), a larger body (413), no JSON, too deep, or text with control characters (400)."""
    if not _is_json(scope):
        raise BadRequest(415, "the body must be JSON (Content-Type: application/json)")
    body = await read_body(receive, max_bytes)
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadRequest(400, f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # also bytes that are not UTF-8
        raise BadRequest(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "the body must be a JSON object")
    _check_json(data)
    return data


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (names are lower case in ASGI)."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


JsonHandler = Callable[[dict[str, Any], str | None], Awaitable[tuple[int, dict[str, Any]]]]
JSON_MAX_BODY = 16 * 1024


def json_endpoint(
    handler: JsonHandler, request: type[BaseModel], pass_header: bytes | None = None
) -> Endpoint:
    """POST with a JSON object holding the fields of `request` (the model the OpenAPI document
    shows) as strings; anything else is a 400, not a crash. The handler gets the object and the
    value of `pass_header` (e.g. the client certificate's fingerprint the TLS terminator sets)."""
    fields = tuple(request.model_fields)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await respond_json(send, 405, {"error": "method not allowed"})
            return
        try:
            data = await read_json_object(scope, receive, JSON_MAX_BODY)
        except BadRequest as exc:
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        if not all(isinstance(data.get(f), str) for f in fields):
            await respond_json(
                send, 400, {"error": f"expected a JSON object with {', '.join(fields)}"}
            )
            return
        status, answer = await handler(data, header(scope, pass_header) if pass_header else None)
        await respond_json(send, status, answer)

    return endpoint


IdentifiedEndpoint = Callable[[Identity, Scope, Receive, Send], Awaitable[None]]


def token_endpoint(
    method: str,
    handle: IdentifiedEndpoint,
    public_key: Ed25519PublicKey,
    clock: Callable[[], datetime],
    issuer: str = ISSUER,
) -> Endpoint:
    """An endpoint for signed-in callers: `method` only, and an access token from the
    authentication API (`shared.platform.tokens`) that verifies on this service's clock; the
    handler gets the identity it proves, and nothing else names the caller."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != method:
            await respond_json(send, 405, {"error": f"{method} only"})
            return
        token = bearer(header(scope, b"authorization"))
        if token is None:
            await respond_json(send, 401, {"error": "sign in: a bearer token is required"})
            return
        try:
            identity = verify(public_key, token, clock(), issuer)
        except TokenRefused as exc:
            log.info("request refused: token", path=scope.get("path"), reason=str(exc))
            await respond_json(send, 401, {"error": "the token is not valid; sign in again"})
            return
        await handle(identity, scope, receive, send)

    return endpoint


def query_params(scope: Scope) -> dict[str, str]:
    """The query string's parameters (the last of a repeated one); BadRequest for one that is
    not readable text."""
    try:
        raw = bytes(scope.get("query_string") or b"").decode("utf-8")
        pairs = urllib.parse.parse_qsl(raw, errors="strict", max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "the query string is not readable") from None
    params = dict(pairs)
    if any(_unusable_text(k) or _unusable_text(v) for k, v in params.items()):
        raise BadRequest(400, "the query string holds control characters")
    return params


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # shut down gracefully and exit 0 like every other service; uvicorn's own handling
        # re-raises the signal after the shutdown, which supervisors read as a crash
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a running service (its metrics endpoint): the service keeps its own signal
    handling, and `begin`/`end` start and stop the server as a task of its event loop."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        super().__init__(
            uvicorn.Config(app, host=host, port=port, lifespan="off", interface="asgi3",
                           log_config=None,
                           access_log=False)
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def begin(self) -> None:
        # bound and listening here: a port in use is this call's OSError (uvicorn would exit),
        # and a request that comes before uvicorn accepts waits in the backlog
        listening = socket.create_server((self.config.host, self.config.port))
        self._task = asyncio.create_task(self.serve(sockets=[listening]))

    async def end(self) -> None:
        self.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None


def server(app: Any, host: str, port: int, **options: Any) -> Server:
    return Server(
        uvicorn.Config(
            app, host=host, port=port, lifespan="on", log_config=None, access_log=False, **options
        )
    )
