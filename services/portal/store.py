"""The portal's tables. All calls run in the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from services.portal.domain import Anfragender, Buchung
from shared.contract.events.abruf import Ergebnisstatus, Nichterstellung
from shared.contract.events.portal import (
    Anfragekopie,
    PortalReleased,
    RegistrationSubmitted,
    Registrierungsmangel,
    Registrierungsstatus,
    RequesterState,
)


@dataclass(frozen=True)
class Konto:
    kennung: str
    registration_id: str
    password_hash: str
    must_change_password: bool
    password_expires_at: datetime | None
    failed_logins: int
    antwortschluessel: str
    status: Registrierungsstatus


@dataclass(frozen=True)
class OffenerVorgang:
    vorgangsnummer: str
    anfrage: Anfragekopie
    land: str | None
    forwarded_at: datetime | None


@dataclass(frozen=True)
class Postfacheintrag:
    vorgangsnummer: str
    request_id: str
    kennung: str
    gemeindeschluessel: str
    ausgang: str
    ergebnisstatus: Ergebnisstatus | None
    nichterstellung: Nichterstellung | None
    antwort: str | None
    released_at: datetime


def _postfach(r: asyncpg.Record) -> Postfacheintrag:
    return Postfacheintrag(
        r["vorgangsnummer"],
        r["request_id"],
        r["kennung"],
        r["gemeindeschluessel"],
        r["ausgang"],
        Ergebnisstatus(r["ergebnisstatus"]) if r["ergebnisstatus"] else None,
        Nichterstellung.model_validate_json(r["nichterstellung"]) if r["nichterstellung"] else None,
        r["antwort"],
        r["released_at"],
    )


def _offen(r: asyncpg.Record) -> OffenerVorgang:
    return OffenerVorgang(
        r["vorgangsnummer"],
        Anfragekopie.model_validate_json(r["anfrage"]),
        r["land"],
        r["forwarded_at"],
    )


class PortalRecords(Protocol):
    """What the portal keeps: registrations, requesters' accounts, open requests and their keys,
    the mailbox, fees and stated months (the fast tier's fake is `tests/fakes/portal.py`)."""

    async def registration(
        self, registration_id: str, lock: bool = False
    ) -> tuple[RequesterState, RegistrationSubmitted] | None: ...
    async def save_registration(
        self, state: RequesterState, reg: RegistrationSubmitted
    ) -> None: ...
    async def create_account(
        self,
        kennung: str,
        registration_id: str,
        password_hash: str,
        expires: datetime,
        antwortschluessel: str,
        now: datetime,
    ) -> None: ...
    async def kennung_taken(self, kennung: str) -> bool: ...
    async def konto(self, kennung: str, lock: bool = False) -> Konto | None: ...
    async def anfragender(self, kennung: str) -> Anfragender | None: ...
    async def update_password(
        self, kennung: str, password_hash: str, must_change: bool, now: datetime
    ) -> None: ...
    async def set_failed_logins(self, kennung: str, failed: int, now: datetime) -> None: ...
    async def known_request(self, request_id: str) -> bool: ...
    async def open(
        self,
        vorgangsnummer: str,
        anfrage: Anfragekopie,
        land: str | None,
        status: str,
        now: datetime,
        deadline: datetime | None,
    ) -> None: ...
    async def store_key(self, vorgangsnummer: str, private_key: bytes, now: datetime) -> None: ...
    async def forwarded(self, vorgangsnummer: str) -> OffenerVorgang | None: ...
    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None: ...
    async def overdue(self, now: datetime) -> list[OffenerVorgang]: ...
    async def put_in_postfach(self, released: PortalReleased) -> bool: ...
    async def postfach(self, kennung: str) -> list[Postfacheintrag]: ...
    async def take_from_postfach(
        self, kennung: str, vorgangsnummer: str
    ) -> tuple[Postfacheintrag, bytes | None] | None: ...
    async def expire_postfach(self, before: datetime) -> list[str]: ...
    async def destroy_key(self, vorgangsnummer: str) -> None: ...
    async def book(self, b: Buchung, tarif: str | None, now: datetime) -> bool: ...
    async def bookings(self, start: datetime, end: datetime) -> list[Buchung]: ...
    async def month_stated(self, monat: str) -> bool: ...
    async def mark_stated(self, monat: str, statements: int, now: datetime) -> None: ...


class PortalStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- registrations -----------------------------------------------------------------------

    async def registration(
        self, registration_id: str, lock: bool = False
    ) -> tuple[RequesterState, RegistrationSubmitted] | None:
        r = await self.conn.fetchrow(
            "SELECT * FROM registrierungen WHERE registration_id = $1"
            + (" FOR UPDATE" if lock else ""),
            registration_id,
        )
        if r is None:
            return None
        state = RequesterState(
            registration_id=r["registration_id"],
            art=r["art"],
            name=r["name"],
            status=r["status"],
            maengel=[Registrierungsmangel.model_validate(m) for m in json.loads(r["maengel"])],
            begruendung=r["begruendung"],
            kennung=r["kennung"],
            version=r["version"],
            updated_at=r["updated_at"],
        )
        return state, RegistrationSubmitted.model_validate_json(r["registrierung"])

    async def save_registration(self, state: RequesterState, reg: RegistrationSubmitted) -> None:
        await self.conn.execute(
            """INSERT INTO registrierungen VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (registration_id) DO UPDATE SET
                 art = EXCLUDED.art, name = EXCLUDED.name, status = EXCLUDED.status,
                 maengel = EXCLUDED.maengel, begruendung = EXCLUDED.begruendung,
                 kennung = EXCLUDED.kennung, registrierung = EXCLUDED.registrierung,
                 version = EXCLUDED.version, updated_at = EXCLUDED.updated_at""",
            state.registration_id,
            state.art.value,
            state.name,
            state.status.value,
            json.dumps([m.model_dump() for m in state.maengel], ensure_ascii=False),
            state.begruendung,
            state.kennung,
            reg.model_dump_json(),
            state.version,
            state.updated_at,
        )

    # -- accounts ----------------------------------------------------------------------------

    async def create_account(
        self,
        kennung: str,
        registration_id: str,
        password_hash: str,
        expires: datetime,
        antwortschluessel: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO konten (kennung, registration_id, password_hash, must_change_password,
                                   password_expires_at, antwortschluessel, updated_at)
               VALUES ($1, $2, $3, true, $4, $5, $6)""",
            kennung,
            registration_id,
            password_hash,
            expires,
            antwortschluessel,
            now,
        )

    async def kennung_taken(self, kennung: str) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM konten WHERE kennung = $1", kennung))

    async def konto(self, kennung: str, lock: bool = False) -> Konto | None:
        r = await self.conn.fetchrow(
            """SELECT k.*, r.status FROM konten k JOIN registrierungen r USING (registration_id)
               WHERE k.kennung = $1"""
            + (" FOR UPDATE OF k" if lock else ""),
            kennung,
        )
        if r is None:
            return None
        return Konto(
            r["kennung"],
            r["registration_id"],
            r["password_hash"],
            r["must_change_password"],
            r["password_expires_at"],
            r["failed_logins"],
            r["antwortschluessel"],
            Registrierungsstatus(r["status"]),
        )

    async def anfragender(self, kennung: str) -> Anfragender | None:
        k = await self.konto(kennung)
        if k is None:
            return None
        return Anfragender(k.kennung, k.registration_id, k.status, k.must_change_password)

    async def update_password(
        self, kennung: str, password_hash: str, must_change: bool, now: datetime
    ) -> None:
        await self.conn.execute(
            """UPDATE konten SET password_hash = $2, must_change_password = $3,
                 password_expires_at = NULL, failed_logins = 0, updated_at = $4
               WHERE kennung = $1""",
            kennung,
            password_hash,
            must_change,
            now,
        )

    async def set_failed_logins(self, kennung: str, failed: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE konten SET failed_logins = $2, updated_at = $3 WHERE kennung = $1",
            kennung,
            failed,
            now,
        )

    # -- requests ----------------------------------------------------------------------------

    async def known_request(self, request_id: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT true FROM vorgaenge WHERE request_id = $1", request_id)
        )

    async def open(
        self,
        vorgangsnummer: str,
        anfrage: Anfragekopie,
        land: str | None,
        status: str,
        now: datetime,
        deadline: datetime | None,
    ) -> None:
        forwarding = status == "forwarded"
        await self.conn.execute(
            """INSERT INTO vorgaenge (vorgangsnummer, request_id, kennung, land, anfrage, status,
                                      forwarded_at, deadline, closed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            vorgangsnummer,
            anfrage.request_id,
            anfrage.kennung,
            land,
            anfrage.model_dump_json() if forwarding else None,
            status,
            now if forwarding else None,
            deadline,
            None if forwarding else now,
        )

    async def store_key(self, vorgangsnummer: str, private_key: bytes, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO anfrageschluessel VALUES ($1, $2, $3)", vorgangsnummer, private_key, now
        )

    async def forwarded(self, vorgangsnummer: str) -> OffenerVorgang | None:
        """The request if it still waits for its register's answer (locked)."""
        r = await self.conn.fetchrow(
            """SELECT vorgangsnummer, anfrage, land, forwarded_at FROM vorgaenge
               WHERE vorgangsnummer = $1 AND status = 'forwarded' FOR UPDATE""",
            vorgangsnummer,
        )
        return _offen(r) if r else None

    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None:
        await self.conn.execute(
            """UPDATE vorgaenge SET status = $2, closed_at = $3, anfrage = NULL
               WHERE vorgangsnummer = $1""",
            vorgangsnummer,
            status,
            now,
        )

    async def overdue(self, now: datetime) -> list[OffenerVorgang]:
        rows = await self.conn.fetch(
            """SELECT vorgangsnummer, anfrage, land, forwarded_at FROM vorgaenge
               WHERE status = 'forwarded' AND deadline <= $1
               ORDER BY deadline LIMIT 500 FOR UPDATE SKIP LOCKED""",
            now,
        )
        return [_offen(r) for r in rows]

    # -- delivery ----------------------------------------------------------------------------

    async def put_in_postfach(self, released: PortalReleased) -> bool:
        return bool(
            await self.conn.fetchval(
                """INSERT INTO postfach VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT DO NOTHING RETURNING true""",
                released.vorgangsnummer,
                released.request_id,
                released.kennung,
                released.gemeindeschluessel,
                released.ausgang.value,
                released.ergebnisstatus.value if released.ergebnisstatus else None,
                released.nichterstellung.model_dump_json() if released.nichterstellung else None,
                released.antwort,
                released.released_at,
            )
        )

    async def postfach(self, kennung: str) -> list[Postfacheintrag]:
        rows = await self.conn.fetch(
            "SELECT * FROM postfach WHERE kennung = $1 ORDER BY released_at", kennung
        )
        return [_postfach(r) for r in rows]

    async def take_from_postfach(
        self, kennung: str, vorgangsnummer: str
    ) -> tuple[Postfacheintrag, bytes | None] | None:
        """The answer and its key, both deleted in this transaction (PortalV § 4 Nr. 4)."""
        r = await self.conn.fetchrow(
            "DELETE FROM postfach WHERE kennung = $1 AND vorgangsnummer = $2 RETURNING *",
            kennung,
            vorgangsnummer,
        )
        if r is None:
            return None
        key = await self.conn.fetchval(
            "DELETE FROM anfrageschluessel WHERE vorgangsnummer = $1 RETURNING private_key",
            vorgangsnummer,
        )
        return _postfach(r), key

    async def expire_postfach(self, before: datetime) -> list[str]:
        """Answers never fetched: deleted with their keys once the fetching time is over."""
        rows = await self.conn.fetch(
            "DELETE FROM postfach WHERE released_at < $1 RETURNING vorgangsnummer", before
        )
        numbers = [r["vorgangsnummer"] for r in rows]
        await self.conn.execute(
            "DELETE FROM anfrageschluessel WHERE vorgangsnummer = ANY($1::text[])", numbers
        )
        return numbers

    async def destroy_key(self, vorgangsnummer: str) -> None:
        await self.conn.execute(
            "DELETE FROM anfrageschluessel WHERE vorgangsnummer = $1", vorgangsnummer
        )

    # -- fees --------------------------------------------------------------------------------

    async def book(self, b: Buchung, tarif: str | None, now: datetime) -> bool:
        return bool(
            await self.conn.fetchval(
                """INSERT INTO gebuehren VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT DO NOTHING RETURNING true""",
                b.vorgangsnummer,
                b.kennung,
                b.gemeindeschluessel,
                b.ergebnisstatus.value,
                tarif,
                b.betrag_cent,
                now,
            )
        )

    async def bookings(self, start: datetime, end: datetime) -> list[Buchung]:
        rows = await self.conn.fetch(
            """SELECT * FROM gebuehren WHERE gebucht_am >= $1 AND gebucht_am < $2
               ORDER BY gebucht_am""",
            start,
            end,
        )
        return [
            Buchung(
                r["vorgangsnummer"],
                r["kennung"],
                r["gemeindeschluessel"],
                Ergebnisstatus(r["ergebnisstatus"]),
                r["betrag_cent"],
            )
            for r in rows
        ]

    async def month_stated(self, monat: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT true FROM abgerechnete_monate WHERE monat = $1", monat)
        )

    async def mark_stated(self, monat: str, statements: int, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO abgerechnete_monate VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            monat,
            statements,
            now,
        )
