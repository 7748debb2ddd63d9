"""`python -m tools.compose_smoke --compose "<command>" --work DIR`: the outside half of
deploy/compose/smoke. With the compose project up, it acts as the authority and its front end
would, from the host through the published ports only:

1. submits an access application on Kafka (127.0.0.1:29092), and signs legal review's
   recommendation as the Verfahrensbetreuung (its operator key from the PKI volume);
2. takes the account mail from the mail catcher and verifies its S/MIME signature with
   `openssl cms` against the CA of the project's PKI;
3. reads the initial password from the letter in mail_dispatch's print spool (PDF), changes it
   at the authentication API and signs in;
4. sends a Personensuche for a person of the loaded register and waits for the released answer,
   opened with the front end's key;
5. finds the answer's § 40 BMG entry through the protocol read API with the access token.

Every step prints its time; any failure exits non-zero with the step that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pypdf import PdfReader

from demo.feed import AUTHORITIES, OPERATOR, PEOPLE, kafka, publish, sample, sign
from demo.queries import persons, query_body
from shared.contract.topics import Topics
from shared.platform.kafka_client import KafkaClient
from shared.platform.pki import ANSWER_KEY, CA_CERT, load_operator_key
from shared.platform.sealed import load_private_key, open_sealed

T = TypeVar("T")
MAILBOX = "/var/lib/meldespiegel/mailbox"  # the mail catcher's, as the compose file sets it
SPOOL = "/spool"  # mail_dispatch's print spool
ACCOUNT_NAME = re.compile(r"Ihr Accountname: (\S+)")
PASSWORD_LINE = re.compile(r"^([A-HJ-NP-Za-km-z2-9]{16})$", re.MULTILINE)
NEW_PASSWORD = "Smoke-Anmeldung-2026!"
AUTH_API, PROTOCOL_API = "http://127.0.0.1:8081", "http://127.0.0.1:8083"


class SmokeFailed(Exception):
    pass


class Smoke:
    def __init__(self, compose: list[str], work: Path, timeout: float) -> None:
        self.compose, self.work, self.timeout = compose, work, timeout
        self.started = time.monotonic()

    def step(self, what: str) -> None:
        print(f"[smoke] {time.monotonic() - self.started:6.1f} s  {what}", flush=True)

    def copy_out(self, source: str, target: Path) -> None:
        """`docker compose cp` of a path in a service's container to the host."""
        done = subprocess.run(
            [*self.compose, "cp", source, str(target)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SmokeFailed(f"docker compose cp {source}: {done.stderr.strip()}")

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(1)
        raise SmokeFailed(f"no {what} within {self.timeout:.0f} s")

    def verified_mail(self, path: Path) -> str:
        """The text of a signed mail, after `openssl cms -verify` against the project's CA."""
        done = subprocess.run(
            ["openssl", "cms", "-verify", "-CAfile", str(self.work / "pki" / CA_CERT),
             "-in", str(path)],
            capture_output=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise SmokeFailed(f"S/MIME signature of {path.name}: {done.stderr.decode().strip()}")
        inner = email.message_from_bytes(done.stdout)
        parts = inner.walk() if inner.is_multipart() else [inner]
        return "\n".join(
            p.get_payload(decode=True).decode("utf-8")
            for p in parts
            if p.get_content_type() == "text/plain"
        )

    async def account_mail(self, address: str) -> str:
        async def probe() -> str | None:
            box = self.work / "mailbox"
            self.copy_out(f"mailcatcher:{MAILBOX}/.", box)
            for path in sorted(box.glob("*.eml")):
                mail = email.message_from_bytes(path.read_bytes())
                if address in (mail["To"] or "") and "Account" in str(mail["Subject"] or ""):
                    text = self.verified_mail(path)
                    if found := ACCOUNT_NAME.search(text):
                        return found.group(1)
            return None

        return await self.until(f"account mail to {address}", probe)

    async def letter_password(self, client: KafkaClient, username: str) -> str:
        """The initial password as the administrator reads it: from the letter, a PDF in the print
        spool named after the credentials event (the letter itself does not name the account)."""

        async def event_id() -> str | None:
            for r in await client.read(Topics.ACCOUNT_CREDENTIALS.name):
                if r.body.get("username") == username:
                    return r.headers["ce_id"]
            return None

        letter = f"{await self.until('credentials event', event_id)}.password_letter.pdf"

        async def text() -> str | None:
            try:
                self.copy_out(f"mail_dispatch:{SPOOL}/{letter}", self.work / letter)
            except SmokeFailed:
                return None
            pages = PdfReader(self.work / letter).pages
            return "\n".join(p.extract_text() for p in pages)

        found = PASSWORD_LINE.search(await self.until("password letter", text))
        if found is None:
            raise SmokeFailed(f"no initial password in {letter}")
        return found.group(1)

    async def run(self) -> None:
        self.copy_out("mail_dispatch:/pki", self.work / "pki")
        async with (
            kafka() as client,
            httpx.AsyncClient(base_url=AUTH_API, timeout=10) as auth,
            httpx.AsyncClient(base_url=PROTOCOL_API, timeout=10) as protocol,
        ):
            await self.application_to_answer(client, auth, protocol)

    async def application_to_answer(
        self, client: KafkaClient, auth: httpx.AsyncClient, protocol: httpx.AsyncClient
    ) -> None:
        body = sample(AUTHORITIES[0], PEOPLE[0])
        address = body["administrator"]["email"]
        follower = await client.follow(Topics.REVIEW_PENDING_MANUAL.name)
        try:
            await publish(client, Topics.APPLICATION_SUBMITTED, body["application_id"], body)
            self.step(f"application {body['application_id']} submitted on Kafka (127.0.0.1:29092)")

            async def recommended() -> dict[str, Any] | None:
                for r in await follower.next(1.0):
                    if r.body.get("application_id") == body["application_id"]:
                        return r.body
                return None

            recommendation = await self.until("recommendation of legal review", recommended)
        finally:
            await follower.close()
        operator = load_operator_key(self.work / "pki", OPERATOR)
        await sign(client, operator, recommendation)
        self.step(f"recommendation ({recommendation['proposed']}) signed by {OPERATOR}")

        username = await self.account_mail(address)
        self.step(f"account mail to {address}, signature verified (openssl cms): {username}")

        initial = await self.letter_password(client, username)
        self.step("initial password read from the letter (PDF) in the print spool")
        first = await auth.post("/auth/login", json={"username": username, "password": initial})
        if first.json().get("outcome") != "password_change_required":
            raise SmokeFailed(f"first sign-in: {first.status_code} {first.text}")
        change = {"username": username, "current_password": initial, "new_password": NEW_PASSWORD}
        changed = await auth.post("/auth/password", json=change)
        if changed.json().get("outcome") != "password_changed":
            raise SmokeFailed(f"password change: {changed.status_code} {changed.text}")
        signed = (
            await auth.post("/auth/login", json={"username": username, "password": NEW_PASSWORD})
        ).json()
        if signed.get("outcome") != "authenticated":
            raise SmokeFailed(f"sign-in: {signed}")
        tenant_id, token = signed["tenant_id"], signed["access_token"]
        self.step(f"password changed, signed in (tenant {tenant_id}) at 127.0.0.1:8081")

        ags, person = persons("03")[0]
        authority = body["authority"]["name"]
        answer = await self.query(client, tenant_id, authority, username, ags, person)
        vorgangsnummer = answer["vorgangsnummer"]
        opened = json.loads(
            open_sealed(
                load_private_key((self.work / "pki" / ANSWER_KEY).read_bytes()),
                answer["antwort"],
                vorgangsnummer.encode(),
            )
        )
        if person.familienname not in json.dumps(opened, ensure_ascii=False):
            raise SmokeFailed(f"the answer does not name {person.familienname}: {opened}")
        self.step(f"answer released: {answer['ergebnisstatus']} {vorgangsnummer}, opened with "
                  f"the front end's key ({person.familienname}, {ags})")  # fmt: skip

        read = await protocol.post(
            "/protocol/read",
            headers={"Authorization": f"Bearer {token}"},
            json={"purpose": "datenschutzkontrolle", "vorgangsnummer": vorgangsnummer},
        )
        entries = read.json().get("entries", []) if read.status_code == 200 else []
        if [e["vorgangsnummer"] for e in entries] != [vorgangsnummer]:
            raise SmokeFailed(f"protocol read: {read.status_code} {read.text}")
        self.step(f"§ 40 entry {entries[0]['chain']}:{entries[0]['seq']} read at 127.0.0.1:8083")

    async def query(
        self, client: KafkaClient, tenant_id: str, authority: str, user: str, ags: str, p: Any
    ) -> dict[str, Any]:
        """A Personensuche, asked again while the router has not yet read the new tenant."""
        deadline = time.monotonic() + self.timeout
        follower = await client.follow(Topics.QUERY_DELIVERED.name)
        try:
            while True:
                body = query_body(tenant_id, authority, user, suchart="personensuche",
                                  gemeindeschluessel=[ags], kriterien={
                                      "familienname": p.familienname, "vornamen": p.vornamen[0],
                                      "geburtsdatum": p.geburtsdatum})  # fmt: skip
                await publish(client, Topics.QUERY_REQUESTED, body["query_id"], body)
                answer = None
                while answer is None and time.monotonic() < deadline:
                    answer = next(
                        (r.body for r in await follower.next(1.0)
                         if r.body.get("query_id") == body["query_id"]),
                        None,
                    )  # fmt: skip
                if answer is None:
                    raise SmokeFailed(f"no released answer within {self.timeout:.0f} s")
                refusal = json.dumps(answer.get("nichterstellung"))
                if answer.get("ausgang") == "answered":
                    return answer
                if "MANDANT_UNBEKANNT" not in refusal or time.monotonic() > deadline:
                    raise SmokeFailed(f"query refused: {answer.get('nichterstellung')}")
                await asyncio.sleep(1)
        finally:
            await follower.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.compose_smoke")
    parser.add_argument("--compose", required=True, help="the docker compose command, quoted")
    parser.add_argument("--work", type=Path, required=True, help="a directory for copies")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per step")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(Smoke(shlex.split(args.compose), args.work, args.timeout).run())
    except SmokeFailed as exc:
        print(f"[smoke] FAILED: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
