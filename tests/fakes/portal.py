"""The portal's `PortalStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services.portal.domain import Anfragender, Buchung
from services.portal.store import Konto, OffenerVorgang, Postfacheintrag
from shared.contract.events.portal import (
    Anfragekopie,
    PortalReleased,
    RegistrationSubmitted,
    RequesterState,
)


@dataclass
class Account:
    kennung: str
    registration_id: str
    password_hash: str
    must_change_password: bool
    password_expires_at: datetime | None
    failed_logins: int
    antwortschluessel: str


@dataclass
class Request:
    request_id: str
    kennung: str
    land: str | None
    anfrage: Anfragekopie | None  # only while it waits for its register
    status: str
    forwarded_at: datetime | None
    deadline: datetime | None


@dataclass
class MemoryPortalStore:
    registrations: dict[str, tuple[RequesterState, RegistrationSubmitted]] = field(
        default_factory=dict
    )
    accounts: dict[str, Account] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)
    mailbox: dict[str, Postfacheintrag] = field(default_factory=dict)
    fees: dict[str, tuple[Buchung, str | None, datetime]] = field(default_factory=dict)
    stated: dict[str, int] = field(default_factory=dict)

    async def registration(
        self, registration_id: str, lock: bool = False
    ) -> tuple[RequesterState, RegistrationSubmitted] | None:
        return self.registrations.get(registration_id)

    async def save_registration(self, state: RequesterState, reg: RegistrationSubmitted) -> None:
        self.registrations[state.registration_id] = (state, reg)

    async def create_account(
        self,
        kennung: str,
        registration_id: str,
        password_hash: str,
        expires: datetime,
        antwortschluessel: str,
        now: datetime,
    ) -> None:
        if kennung in self.accounts:
            raise KeyError(f"duplicate Kennung: {kennung}")
        self.accounts[kennung] = Account(
            kennung, registration_id, password_hash, True, expires, 0, antwortschluessel
        )

    async def kennung_taken(self, kennung: str) -> bool:
        return kennung in self.accounts

    async def konto(self, kennung: str, lock: bool = False) -> Konto | None:
        a = self.accounts.get(kennung)
        if a is None:
            return None
        state, _ = self.registrations[a.registration_id]
        return Konto(
            a.kennung,
            a.registration_id,
            a.password_hash,
            a.must_change_password,
            a.password_expires_at,
            a.failed_logins,
            a.antwortschluessel,
            state.status,
        )

    async def anfragender(self, kennung: str) -> Anfragender | None:
        k = await self.konto(kennung)
        if k is None:
            return None
        return Anfragender(k.kennung, k.registration_id, k.status, k.must_change_password)

    async def update_password(
        self, kennung: str, password_hash: str, must_change: bool, now: datetime
    ) -> None:
        a = self.accounts[kennung]
        self.accounts[kennung] = replace(
            a,
            password_hash=password_hash,
            must_change_password=must_change,
            password_expires_at=None,
            failed_logins=0,
        )

    async def set_failed_logins(self, kennung: str, failed: int, now: datetime) -> None:
        self.accounts[kennung] = replace(self.accounts[kennung], failed_logins=failed)

    async def known_request(self, request_id: str) -> bool:
        return any(r.request_id == request_id for r in self.requests.values())

    async def open(
        self,
        vorgangsnummer: str,
        anfrage: Anfragekopie,
        land: str | None,
        status: str,
        now: datetime,
        deadline: datetime | None,
    ) -> None:
        if vorgangsnummer in self.requests or await self.known_request(anfrage.request_id):
            raise KeyError(f"duplicate key: {vorgangsnummer}")
        forwarding = status == "forwarded"
        self.requests[vorgangsnummer] = Request(
            anfrage.request_id,
            anfrage.kennung,
            land,
            anfrage if forwarding else None,
            status,
            now if forwarding else None,
            deadline,
        )

    async def store_key(self, vorgangsnummer: str, private_key: bytes, now: datetime) -> None:
        if vorgangsnummer in self.keys:
            raise KeyError(f"duplicate key: {vorgangsnummer}")
        self.keys[vorgangsnummer] = private_key

    def _open(self, nummer: str, r: Request) -> OffenerVorgang:
        assert r.anfrage is not None
        return OffenerVorgang(nummer, r.anfrage, r.land, r.forwarded_at)

    async def forwarded(self, vorgangsnummer: str) -> OffenerVorgang | None:
        r = self.requests.get(vorgangsnummer)
        return self._open(vorgangsnummer, r) if r and r.status == "forwarded" else None

    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None:
        r = self.requests.get(vorgangsnummer)
        if r is not None:
            self.requests[vorgangsnummer] = replace(r, status=status, anfrage=None)

    async def overdue(self, now: datetime) -> list[OffenerVorgang]:
        due = sorted(
            (
                (n, r)
                for n, r in self.requests.items()
                if r.status == "forwarded" and r.deadline is not None and r.deadline <= now
            ),
            key=lambda nr: nr[1].deadline or now,
        )
        return [self._open(n, r) for n, r in due[:500]]

    async def put_in_postfach(self, released: PortalReleased) -> bool:
        if released.vorgangsnummer in self.mailbox:
            return False
        self.mailbox[released.vorgangsnummer] = Postfacheintrag(
            released.vorgangsnummer,
            released.request_id,
            released.kennung,
            released.gemeindeschluessel,
            released.ausgang.value,
            released.ergebnisstatus,
            released.nichterstellung,
            released.antwort,
            released.released_at,
        )
        return True

    async def postfach(self, kennung: str) -> list[Postfacheintrag]:
        mine = (e for e in self.mailbox.values() if e.kennung == kennung)
        return sorted(mine, key=lambda e: e.released_at)

    async def take_from_postfach(
        self, kennung: str, vorgangsnummer: str
    ) -> tuple[Postfacheintrag, bytes | None] | None:
        e = self.mailbox.get(vorgangsnummer)
        if e is None or e.kennung != kennung:
            return None
        del self.mailbox[vorgangsnummer]
        return e, self.keys.pop(vorgangsnummer, None)

    async def expire_postfach(self, before: datetime) -> list[str]:
        numbers = [n for n, e in self.mailbox.items() if e.released_at < before]
        for n in numbers:
            del self.mailbox[n]
            self.keys.pop(n, None)
        return numbers

    async def destroy_key(self, vorgangsnummer: str) -> None:
        self.keys.pop(vorgangsnummer, None)

    async def book(self, b: Buchung, tarif: str | None, now: datetime) -> bool:
        if b.vorgangsnummer in self.fees:
            return False
        self.fees[b.vorgangsnummer] = (b, tarif, now)
        return True

    async def bookings(self, start: datetime, end: datetime) -> list[Buchung]:
        booked = sorted((at, b) for b, _, at in self.fees.values() if start <= at < end)
        return [b for _, b in booked]

    async def month_stated(self, monat: str) -> bool:
        return monat in self.stated

    async def mark_stated(self, monat: str, statements: int, now: datetime) -> None:
        self.stated.setdefault(monat, statements)
