"""Client of protocol_log's read API (`services/protocol_log/api.py`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from operator_cli.domain import Abort


class ProtokollApiFehler(Abort):
    """The read API refused or could not be reached."""


class ProtokollApi:
    def __init__(self, url: str, token: str, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if not self.token:
            raise ProtokollApiFehler(
                "no token for the protocol read API: set MELDESPIEGEL_PROTOCOL_API_TOKEN"
            )
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                reason = exc.reason
            raise ProtokollApiFehler(f"the protocol log refused ({exc.code}): {reason}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProtokollApiFehler(
                f"the protocol log's read API does not answer at {self.url} ({reason}); "
                "set MELDESPIEGEL_PROTOCOL_API_URL"
            ) from None

    def verify(self) -> dict[str, Any]:
        return self._call("GET", "/protocol/verify")

    def read(self, **query: Any) -> list[dict[str, Any]]:
        body = {k: v for k, v in query.items() if v is not None}
        return self._call("POST", "/protocol/read", body)["entries"]
