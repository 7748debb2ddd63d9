"""Clients of the HTTP APIs the CLI uses: the authentication API (provisioning) to sign in, and
protocol_log's read API with the access token of that sign-in. The session (tokens, who signed
in) is kept in a file only its owner can read; an access token about to expire is refreshed."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from operator_cli.domain import Abort

REFRESH_BEFORE = timedelta(seconds=60)


class ApiError(Abort):
    """An API refused or could not be reached; the message says which and why."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def call(
    url: str,
    method: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    timeout_s: float = 60.0,
    accept_status: tuple[int, ...] = (),
) -> tuple[int, str, bytes]:
    """(status, content type, body); an HTTP error not in `accept_status` raises ApiError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        if exc.code in accept_status:
            return exc.code, exc.headers.get("content-type", ""), raw
        try:
            parsed = json.loads(raw)
            reason = parsed.get("error") or parsed.get("message") or exc.reason
        except (ValueError, AttributeError):
            parsed, reason = None, exc.reason
        raise ApiError(f"{url} refused ({exc.code}): {reason}", exc.code, parsed) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise ApiError(f"no answer from {url} ({getattr(exc, 'reason', exc)})") from None


class SessionFile:
    """The signed-in session: readable by its owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save(self, session: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(session, f)
        self.path.chmod(0o600)

    def clear(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


class AuthApi:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, _, raw = call(self.url + path, "POST", body, accept_status=(400, 401, 403))
        try:
            return status, json.loads(raw)
        except ValueError:
            raise ApiError(f"{self.url}{path}: not a JSON answer", status) from None

    def login(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        return self._post("/auth/login", {"username": username, "password": password})

    def change_password(self, username: str, current: str, new: str) -> tuple[int, dict[str, Any]]:
        return self._post(
            "/auth/password",
            {"username": username, "current_password": current, "new_password": new},
        )

    def refresh(self, refresh_token: str) -> tuple[int, dict[str, Any]]:
        return self._post("/auth/refresh", {"refresh_token": refresh_token})


def session_of(answer: dict[str, Any], username: str, auth_url: str) -> dict[str, Any]:
    """What the session file keeps of a sign-in or refresh answer."""
    keep = ("user_id", "tenant_id", "kind", "roles", "authorisations", "access_token")
    return {
        "username": username,
        "auth_url": auth_url,
        **{k: answer.get(k) for k in keep},
        "expires_at": answer["expires_at"],
        "refresh_token": answer["refresh_token"],
    }


class Session:
    """The access token of the signed-in account, refreshed when it is about to expire."""

    def __init__(self, file: SessionFile, auth: AuthApi) -> None:
        self.file = file
        self.auth = auth

    def current(self) -> dict[str, Any]:
        session = self.file.load()
        if not session or "access_token" not in session:
            raise Abort("not signed in: run `meldespiegel login`")
        return session

    def access_token(self, now: datetime | None = None) -> str:
        session = self.current()
        now = now or datetime.now(UTC)
        if datetime.fromisoformat(session["expires_at"]) - REFRESH_BEFORE > now:
            return str(session["access_token"])
        status, answer = self.auth.refresh(session["refresh_token"])
        if status != 200:
            self.file.clear()
            raise Abort(
                f"the sign-in has ended ({answer.get('message', status)}): "
                "run `meldespiegel login` again"
            )
        renewed = session_of(answer, session["username"], self.auth.url)
        self.file.save(renewed)
        return str(renewed["access_token"])


class ProtocolApi:
    def __init__(self, url: str, session: Session, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        _, _, raw = call(self.url + path, method, body, self.session.access_token(), self.timeout_s)
        return raw

    def verify(self) -> dict[str, Any]:
        return json.loads(self._call("GET", "/protocol/verify"))

    def read(self, **query: Any) -> list[dict[str, Any]]:
        body = {k: v for k, v in query.items() if v is not None}
        return json.loads(self._call("POST", "/protocol/read", body))["entries"]

    def export_csv(self, **query: Any) -> str:
        body = {k: v for k, v in query.items() if v is not None} | {"format": "csv"}
        return self._call("POST", "/protocol/read", body).decode("utf-8")


class AccountsApi:
    """provisioning's account audit, with the signed-in account's token."""

    def __init__(self, url: str, session: Session, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.timeout_s = timeout_s

    def audit(self, tenant_id: str, fmt: str) -> str:
        query = urllib.parse.urlencode({"tenant_id": tenant_id, "format": fmt})
        _, _, raw = call(
            f"{self.url}/accounts/audit?{query}",
            "GET",
            token=self.session.access_token(),
            timeout_s=self.timeout_s,
        )
        return raw.decode("utf-8")
