"""The HTTP APIs' OpenAPI documents (docs/openapi/, generated from the operations each API declares
beside its routes) pass the OpenAPI 3.1 validator, and a route without its operation stops the
service instead of going undocumented."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from shared.platform.openapi import Api, Operation, documented
from tools.contract import APIS, OPENAPI


@pytest.mark.parametrize("name", sorted(APIS))
def test_the_openapi_document_is_valid_openapi_3_1(name: str) -> None:
    doc = json.loads((OPENAPI / f"{name}.json").read_text("utf-8"))
    validate(doc)  # raises with the first violation
    assert doc["openapi"] == "3.1.0"
    assert doc["paths"], name


def test_sign_in_and_read_bodies_are_described_field_by_field() -> None:
    auth = json.loads((OPENAPI / "authentication.json").read_text("utf-8"))
    login = auth["paths"]["/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Login"
    }
    assert auth["components"]["schemas"]["Login"]["required"] == ["username", "password"]
    protocol = json.loads((OPENAPI / "protocol.json").read_text("utf-8"))
    read = protocol["components"]["schemas"]["Leseanfrage"]
    assert set(read["required"]) == {"purpose"}
    assert protocol["paths"]["/protocol/read"]["post"]["security"] == [{"bearer": []}]


async def _endpoint(scope: dict, receive: object, send: object) -> None:
    return None


def test_a_route_without_its_operation_stops_the_service() -> None:
    api = Api("t", "t", "http://127.0.0.1:1", (Operation("/a", "get", "a", {200: "ok"}),))
    served = documented(api, [("/a", _endpoint), ("/health", _endpoint)])
    assert [path for path, _ in served] == ["/a", "/health", "/openapi.json"]
    with pytest.raises(RuntimeError, match=r"routes without an operation \['/b'\]"):
        documented(api, [("/a", _endpoint), ("/b", _endpoint)])
    with pytest.raises(RuntimeError, match=r"operations without a route \['/a'\]"):
        documented(api, [])
