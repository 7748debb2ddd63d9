"""Hostile input on every HTTP endpoint gives a 4xx with a readable error, never a 5xx: wrong
methods and content types, bodies that are no JSON, too large, nested too deeply, or that hold
NUL and control characters, lone surrogates and 1 MB fields, in every field a route reads, and
forged, altered and garbage bearer tokens. Generated with hypothesis, one property per route,
against each service's ASGI application in process with its real PostgreSQL store (the failure
this guards against was the database refusing a NUL byte in a login name: HTTP 500)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dashboard.app import DashboardService
from services.portal.api import routes as portal_routes
from services.portal.app import PortalService, PortalSettings
from services.protocol_log.api import routes as protocol_routes
from services.protocol_log.app import ProtocolLog, ProtocolSettings
from services.provisioning.api import routes as provisioning_routes
from services.provisioning.app import Provisioning, ProvisioningSettings
from shared.contract.events.account import OperatorRole
from tests import identities
from tests.helpers import database_url
from tests.inmemory import InMemory

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("MELDESPIEGEL_HOSTILE_HTTP_EXAMPLES", "60"))

# the fields each route reads; hostile bodies put hostile values in them
ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "/auth/login": ("provisioning", ("username", "password")),
    "/auth/refresh": ("provisioning", ("refresh_token",)),
    "/auth/password": ("provisioning", ("username", "current_password", "new_password")),
    "/portal/anmeldung": ("portal", ("kennung", "passwort")),
    "/portal/passwort": ("portal", ("kennung", "passwort", "neues_passwort")),
    "/portal/postfach": ("portal", ("kennung",)),
    "/portal/antwort": ("portal", ("vorgangsnummer",)),
    "/accounts/audit": ("provisioning", ("tenant_id",)),
    "/protocol/read": (
        "protocol_log",
        ("purpose", "tenant_id", "vorgangsnummer", "kennung", "since", "until", "format"),
    ),
    "/protocol/verify": ("protocol_log", ("purpose",)),
    "/health": ("provisioning", ()),
    "/health ": ("portal", ()),  # the same path on another service
    "/health  ": ("protocol_log", ()),
    "/state": ("dashboard", ()),
    "/": ("dashboard", ()),
}

NASTY_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Co"]), max_size=20),
    st.sampled_from(
        [
            "\x00",
            "admin\x00",
            "\ud800",
            "a\udfffb",
            "\x1b[31m",
            "\x7f",
            "Robert'); DROP TABLE account;--",
            "../../etc/passwd",
            '=HYPERLINK("x")',
            "ß" * 5000,
            "x" * 1_000_000,
            "",
            "datenschutzkontrolle",
            "csv",
            "2026-13-45T99:99",
            "9" * 400,
        ]
    ),
)
JSON_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        NASTY_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(NASTY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def body(draw: st.DrawFn, fields: tuple[str, ...], kind: str) -> bytes:
    if kind == "well-formed":  # every field the route reads, as text, some of it hostile
        values = {f: draw(NASTY_TEXT) for f in fields}
        return json.dumps(values, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "fields":
        data: dict[str, Any] = {f: draw(JSON_VALUE) for f in fields if draw(st.booleans())}
        data |= draw(st.dictionaries(NASTY_TEXT, JSON_VALUE, max_size=2))
        return json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")
    if kind == "json":
        return json.dumps(draw(JSON_VALUE), allow_nan=True).encode("utf-8", "surrogatepass")
    if kind == "raw":
        return draw(st.binary(max_size=300))
    if kind == "deep":
        return draw(st.sampled_from([nested(17), nested(500), b"[" * 100_000 + b"]" * 100_000]))
    return b'{"' + fields[0].encode() + b'": "' + b"A" * 1_100_000 + b'"}' if fields else b"{}"


def tokens() -> st.SearchStrategy[str | None]:
    now = datetime.now(UTC)
    valid, _ = identities.operator(OperatorRole.REVISION, now, "revision-test")
    tenant, _ = identities.tenant_user("T-hostile", now)
    return st.one_of(
        st.none(),
        st.just(f"Bearer {valid}"),
        st.just(f"Bearer {tenant}"),
        st.just(f"Bearer {valid[:-3]}xyz"),
        st.just(f"Bearer {valid.split('.')[0]}.e30.AAAA"),
        st.builds(lambda t: f"Bearer {t}", NASTY_TEXT.filter(lambda t: t.isascii())),
        st.text(st.characters(codec="latin-1"), max_size=40),
    )


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "application/json\x00",
        ]
    ),
)
METHODS = st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"])


@pytest.fixture(scope="module")
async def apps() -> AsyncIterator[dict[str, Any]]:
    url = database_url()
    services = {
        "provisioning": Provisioning(ProvisioningSettings(database_url=url)),
        "portal": PortalService(PortalSettings(database_url=url)),
        "protocol_log": ProtocolLog(ProtocolSettings(database_url=url)),
    }
    route_of = {
        "provisioning": provisioning_routes,
        "portal": portal_routes,
        "protocol_log": protocol_routes,
    }
    runs = [InMemory(s) for s in services.values()]
    for run in runs:
        await run.__aenter__()
    try:
        found = {name: s.app.as_asgi(asgi_routes=route_of[name](s)) for name, s in services.items()}
        found["dashboard"] = DashboardService()  # its page and read model, without reading
        yield found
    finally:
        for run in runs:
            await run.__aexit__(None, None, None)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{ROUTES[r][0]}{r.strip()}")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_hostile_requests_get_a_4xx_and_a_reason(
    apps: dict[str, Any], route: str, data: st.DataObject
) -> None:
    service, fields = ROUTES[route]
    # half the requests are shaped as the route expects, so that hostile text reaches the
    # service and its database; the other half are wrong in every other way
    kind = data.draw(
        st.sampled_from(["well-formed", "well-formed", "fields", "json", "raw", "deep", "huge"]),
        label="kind",
    )
    well_formed = kind == "well-formed"
    method = "POST" if well_formed else data.draw(METHODS, label="method")
    content_type = (
        "application/json" if well_formed else data.draw(CONTENT_TYPES, label="content-type")
    )
    authorization = data.draw(tokens(), label="authorization")
    certificate = data.draw(st.one_of(st.none(), st.text(st.characters(codec="latin-1"))))
    raw = data.draw(body(fields, kind), label="body")
    # the query string's values as hostile as the body's, short of what no HTTP server takes in
    # a request line at all (the client refuses a URL of more than 64 KiB)
    short = NASTY_TEXT.filter(lambda t: len(t) < 4000)
    params = data.draw(
        st.dictionaries(st.sampled_from([*fields, "format", "x"]), short, max_size=3),
        label="query",
    )
    query = "?" + "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params.items()
    )
    headers = [("content-type", content_type), ("authorization", authorization)]
    headers.append(("x-client-cert-sha256", certificate))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=apps[service]), base_url="http://meldespiegel"
    ) as client:
        sent = [
            (name.encode(), value.encode("latin-1", "replace"))
            for name, value in headers
            if value is not None
        ]
        answer = await client.request(method, route.strip() + query, content=raw, headers=sent)
    assert answer.status_code < 500, (method, route, answer.status_code, answer.text[:500])
    if answer.status_code >= 400 and "json" in answer.headers.get("content-type", ""):
        reason = answer.json()
        assert reason.get("error") or reason.get("message"), reason


async def test_an_unknown_path_is_a_404(apps: dict[str, Any]) -> None:
    for service in ("provisioning", "portal", "protocol_log", "dashboard"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[service]), base_url="http://meldespiegel"
        ) as client:
            assert (await client.post("/no/such/path", json={})).status_code == 404
