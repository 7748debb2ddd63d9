"""register_mirror's tables: the persons and their search forms, Identifikationsmerkmale, the
delivery log, the registration offices' log of their answers. All calls run in the caller's
transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from services.register_mirror.domain import Fund, name_schluessel, suchspalten
from shared.contract.events.abruf import RegisterRequest, RegisterResponse, Suchkriterien
from shared.contract.events.register import DeliveryLogged, Personendatensatz
from shared.law.suchnormalisierung import (
    has_wildcard,
    koelner_phonetik,
    like_pattern,
    normalise,
    normalise_pattern,
    normalise_strasse,
    vornamen_set,
)

COLUMNS = (
    "gemeindeschluessel",
    "ordnungsmerkmal",
    "familienname_n",
    "familienname_p",
    "fruehere_namen_n",
    "fruehere_namen_p",
    "vornamen_n",
    "vornamen_p",
    "ordensname_n",
    "kuenstlername_n",
    "geburtsdatum",
    "geburtsort_n",
    "geschlecht",
    "staatsangehoerigkeiten",
    "familienstand",
    "strassen_n",
    "postleitzahlen",
    "haupt_gemeinde",
    "sterbedatum",
    "sterbeort_n",
    "waffen",
    "sprengstoff",
    "gesperrt",
    "datensatz",
    "delivery_id",
)
# a Personensuche's candidates before the address criteria are applied
CANDIDATE_LIMIT = 20_000


def row(gemeindeschluessel: str, d: Personendatensatz, delivery_id: str | None) -> tuple[Any, ...]:
    values = suchspalten(gemeindeschluessel, d)
    values["datensatz"] = d.model_dump_json(exclude_defaults=True)
    values["delivery_id"] = delivery_id
    return tuple(values[c] for c in COLUMNS)


class _Where:
    """Collects SQL conditions with numbered parameters."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *values: Any) -> None:
        for value in values:
            self.params.append(value)
            sql = sql.replace("?", f"${len(self.params)}", 1)
        self.conditions.append(sql)

    def text(self, column: str, value: str, *, phonetic: bool, strasse: bool = False) -> None:
        if has_wildcard(value):
            self.add(f"{column} LIKE ?", like_pattern(normalise_pattern(value)))
        elif phonetic:
            self.add(f"{column} = ?", koelner_phonetik(value))
        else:
            self.add(f"{column} = ?", normalise_strasse(value) if strasse else normalise(value))

    def array_any(self, column: str, value: str, *, phonetic: bool, strasse: bool = False) -> None:
        if has_wildcard(value):
            self.add(
                f"EXISTS (SELECT 1 FROM unnest({column}) e WHERE e LIKE ?)",
                like_pattern(normalise_pattern(value)),
            )
        elif phonetic:
            self.add(f"{column} @> ?::text[]", [koelner_phonetik(value)])
        else:
            self.add(
                f"{column} @> ?::text[]",
                [normalise_strasse(value) if strasse else normalise(value)],
            )

    def sql(self) -> str:
        return " AND ".join(self.conditions) or "true"


def _simple_criteria(where: _Where, k: Suchkriterien) -> None:
    if k.geburtsdatum and k.geburtsdatum_bis:
        where.add("geburtsdatum BETWEEN ? AND ?", k.geburtsdatum, k.geburtsdatum_bis)
    elif k.geburtsdatum:
        where.add("geburtsdatum = ?", k.geburtsdatum)
    if k.geschlecht:
        where.add("geschlecht = ?", k.geschlecht.lower())
    if k.sterbedatum:
        where.add("sterbedatum = ?", k.sterbedatum)


def _fund(r: asyncpg.Record) -> Fund:
    return Fund(r["gemeindeschluessel"], Personendatensatz.model_validate_json(r["datensatz"]))


@dataclass(frozen=True)
class IssuedMerkmal:
    """An Identifikationsmerkmal an answer gave for a person found (§ 39 Abs. 2 BMG)."""

    merkmal: str
    fund: Fund
    tenant_id: str
    vorgangsnummer: str


class RegisterRecords(Protocol):
    """What a register keeps: persons with their search forms, parts of full deliveries, the
    delivery log, Identifikationsmerkmale, the offices' log (the fast tier's fake is
    `tests/fakes/register_mirror.py`)."""

    async def upsert(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None: ...
    async def remove(self, ags: str, ordnungsmerkmale: Sequence[str]) -> None: ...
    async def replace_all(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None: ...
    async def stage_part(
        self, delivery_id: str, teil: int, teile: int, ags: str, records: Sequence[Any]
    ) -> int: ...
    async def take_parts(self, delivery_id: str) -> list[Personendatensatz]: ...
    async def logged_before(self, delivery_id: str, teil: int) -> bool: ...
    async def log_delivery(self, entry: DeliveryLogged) -> None: ...
    async def log_auskunft(
        self, request: RegisterRequest, response: RegisterResponse, daten: Sequence[str]
    ) -> None: ...
    async def forget_auskunftsprotokoll(self, before: datetime) -> int: ...
    async def personensuche(self, ags: str, k: Suchkriterien, phonetisch: bool) -> list[Fund]: ...
    async def freie_suche(
        self, bereich: Iterable[str], k: Suchkriterien, phonetisch: bool, limit: int
    ) -> list[Fund]: ...
    async def issue_merkmale(
        self, merkmale: Sequence[IssuedMerkmal], issued_at: datetime, valid_until: datetime
    ) -> None: ...
    async def by_merkmal(
        self, merkmal: str, ags: str, tenant_id: str, now: datetime
    ) -> Fund | None: ...
    async def forget_merkmale(self, now: datetime) -> int: ...
    async def record(self, ags: str, ordnungsmerkmal: str) -> Fund | None: ...
    async def count(self) -> int: ...


class RegisterStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- deliveries --------------------------------------------------------------------------

    async def upsert(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None:
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
        placeholders = ", ".join(f"${i + 1}" for i in range(len(COLUMNS)))
        await self.conn.executemany(
            f"""INSERT INTO personen ({", ".join(COLUMNS)}) VALUES ({placeholders})
                ON CONFLICT (gemeindeschluessel, ordnungsmerkmal) DO UPDATE SET {assignments}""",
            [row(ags, d, delivery_id) for d in records],
        )

    async def remove(self, ags: str, ordnungsmerkmale: Sequence[str]) -> None:
        await self.conn.execute(
            "DELETE FROM personen WHERE gemeindeschluessel = $1 AND ordnungsmerkmal = ANY($2)",
            ags,
            list(ordnungsmerkmale),
        )

    async def replace_all(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None:
        await self.conn.execute("DELETE FROM personen WHERE gemeindeschluessel = $1", ags)
        await self.conn.copy_records_to_table(
            "personen", records=[row(ags, d, delivery_id) for d in records], columns=COLUMNS
        )

    async def stage_part(
        self, delivery_id: str, teil: int, teile: int, ags: str, records: Sequence[Any]
    ) -> int:
        """Keeps a part of a full delivery; returns how many distinct parts are there."""
        await self.conn.execute(
            """INSERT INTO vollbestand_teile (delivery_id, teil, teile, gemeindeschluessel,
                                              datensaetze)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            delivery_id,
            teil,
            teile,
            ags,
            "[" + ",".join(r.model_dump_json() for r in records) + "]",
        )
        return int(
            await self.conn.fetchval(
                "SELECT count(*) FROM vollbestand_teile WHERE delivery_id = $1", delivery_id
            )
        )

    async def take_parts(self, delivery_id: str) -> list[Personendatensatz]:
        rows = await self.conn.fetch(
            "DELETE FROM vollbestand_teile WHERE delivery_id = $1 RETURNING teil, datensaetze",
            delivery_id,
        )
        records: list[Personendatensatz] = []
        for r in sorted(rows, key=lambda r: r["teil"]):
            records.extend(
                Personendatensatz.model_validate(x) for x in json.loads(r["datensaetze"])
            )
        return records

    async def logged_before(self, delivery_id: str, teil: int) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM lieferungen WHERE delivery_id = $1 AND teil = $2",
                delivery_id,
                teil,
            )
        )

    async def log_delivery(self, entry: DeliveryLogged) -> None:
        await self.conn.execute(
            """INSERT INTO lieferungen (delivery_id, teil, teile, absender_ags, absender_name,
                       art, anzahl_datensaetze, anzahl_entfernt, status, grund, empfangen_am)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            entry.delivery_id,
            entry.teil,
            entry.teile,
            entry.absender.gemeindeschluessel,
            entry.absender.name,
            entry.art.value,
            entry.anzahl_datensaetze,
            entry.anzahl_entfernt,
            entry.status.value,
            entry.grund,
            entry.empfangen_am,
        )

    async def log_auskunft(
        self, request: RegisterRequest, response: RegisterResponse, daten: Sequence[str]
    ) -> None:
        """One line of the registration office's own log (§ 49 Abs. 6, § 40 Abs. 1 BMG)."""
        n = response.nichterstellung
        await self.conn.execute(
            """INSERT INTO auskunftsprotokoll (vorgangsnummer, protokolliert_am, anfragende,
                   auskunftsart, ergebnisstatus, nichterstellung, daten, treffer)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (vorgangsnummer) DO NOTHING""",
            response.vorgangsnummer,
            response.answered_at,
            request.anfragende.model_dump_json(exclude_none=True),
            request.auskunftsart.value,
            response.ergebnisstatus.value if response.ergebnisstatus else None,
            f"{n.code} {n.grund}" if n else None,
            list(daten),
            json.dumps([t.model_dump() for t in response.treffer]),
        )

    async def forget_auskunftsprotokoll(self, before: datetime) -> int:
        """Deletes the log's entries written before this instant (§ 40 Abs. 5 BMG)."""
        deleted = await self.conn.execute(
            "DELETE FROM auskunftsprotokoll WHERE protokolliert_am < $1", before
        )
        return int(deleted.split()[-1])

    # -- searches ----------------------------------------------------------------------------

    async def personensuche(self, ags: str, k: Suchkriterien, phonetisch: bool) -> list[Fund]:
        """Candidates by name and the simple criteria; the address is matched by the domain."""
        keys = name_schluessel(k, phonetisch)
        where = _Where()
        where.add("gemeindeschluessel = ?", ags)
        suffix = "_p" if phonetisch else "_n"
        if keys["familienname"]:
            where.add(f"familienname{suffix} = ?", keys["familienname"])
        if keys["frueherer_name"]:
            where.add(f"fruehere_namen{suffix} @> ?::text[]", [keys["frueherer_name"]])
        if keys["vornamen"]:
            where.add(f"vornamen{suffix} @> ?::text[]", keys["vornamen"])
        if keys["ordensname"]:
            where.add("ordensname_n = ?", keys["ordensname"])
        if keys["kuenstlername"]:
            where.add("kuenstlername_n = ?", keys["kuenstlername"])
        _simple_criteria(where, k)
        if k.geburtsort:
            where.add("geburtsort_n = ?", normalise(k.geburtsort))
        if k.sterbeort:
            where.add("sterbeort_n = ?", normalise(k.sterbeort))
        rows = await self.conn.fetch(
            f"""SELECT gemeindeschluessel, datensatz FROM personen WHERE {where.sql()}
                ORDER BY ordnungsmerkmal LIMIT {CANDIDATE_LIMIT}""",
            *where.params,
        )
        return [_fund(r) for r in rows]

    async def freie_suche(
        self, bereich: Iterable[str], k: Suchkriterien, phonetisch: bool, limit: int
    ) -> list[Fund]:
        """Unblocked persons in the area matching every criterion, at most `limit`."""
        where = _Where()
        codes = list(bereich)
        where.add(
            """(gemeindeschluessel = ANY(?::text[]) OR left(gemeindeschluessel, 5) = ANY(?::text[])
                OR left(gemeindeschluessel, 2) = ANY(?::text[]))""",
            [c for c in codes if len(c) == 8],
            [c for c in codes if len(c) == 5],
            [c for c in codes if len(c) == 2],
        )
        where.add("NOT gesperrt")
        if k.familienname:
            col = "familienname_p" if phonetisch else "familienname_n"
            where.text(col, k.familienname, phonetic=phonetisch)
        if k.frueherer_name:
            col = "fruehere_namen_p" if phonetisch else "fruehere_namen_n"
            where.array_any(col, k.frueherer_name, phonetic=phonetisch)
        if k.vornamen:
            for vorname in (
                vornamen_set(k.vornamen) if not has_wildcard(k.vornamen) else [k.vornamen]
            ):
                col = "vornamen_p" if phonetisch else "vornamen_n"
                where.array_any(col, vorname, phonetic=phonetisch)
        if k.ordensname:
            where.text("ordensname_n", k.ordensname, phonetic=False)
        if k.kuenstlername:
            where.text("kuenstlername_n", k.kuenstlername, phonetic=False)
        if k.geburtsort:
            where.text("geburtsort_n", k.geburtsort, phonetic=False)
        if k.sterbeort:
            where.text("sterbeort_n", k.sterbeort, phonetic=False)
        if k.strasse:
            where.array_any("strassen_n", k.strasse, phonetic=False, strasse=True)
        if k.postleitzahl:
            where.add("postleitzahlen @> ?::text[]", [k.postleitzahl])
        if k.staatsangehoerigkeit:
            where.add("staatsangehoerigkeiten @> ?::text[]", [normalise(k.staatsangehoerigkeit)])
        if k.familienstand:
            where.add("familienstand = ?", normalise(k.familienstand))
        if k.waffenrechtliche_erlaubnis is not None:
            where.add("waffen = ?", k.waffenrechtliche_erlaubnis)
        if k.sprengstoffrechtliche_erlaubnis is not None:
            where.add("sprengstoff = ?", k.sprengstoffrechtliche_erlaubnis)
        _simple_criteria(where, k)
        rows = await self.conn.fetch(
            f"""SELECT gemeindeschluessel, datensatz FROM personen WHERE {where.sql()}
                ORDER BY gemeindeschluessel, ordnungsmerkmal LIMIT {int(limit)}""",
            *where.params,
        )
        return [_fund(r) for r in rows]

    # -- Identifikationsmerkmale -------------------------------------------------------------

    async def issue_merkmale(
        self, merkmale: Sequence[IssuedMerkmal], issued_at: datetime, valid_until: datetime
    ) -> None:
        """The Identifikationsmerkmale a batch's answers gave, in one statement."""
        if not merkmale:
            return
        await self.conn.execute(
            """INSERT INTO identifikationsmerkmale (merkmal, gemeindeschluessel, ordnungsmerkmal,
                   tenant_id, vorgangsnummer, issued_at, valid_until)
               SELECT m, g, o, t, v, $6::timestamptz, $7::timestamptz
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS r(m, g, o, t, v)""",
            [m.merkmal for m in merkmale],
            [m.fund.gemeindeschluessel for m in merkmale],
            [m.fund.datensatz.ordnungsmerkmal for m in merkmale],
            [m.tenant_id for m in merkmale],
            [m.vorgangsnummer for m in merkmale],
            issued_at,
            valid_until,
        )

    async def by_merkmal(
        self, merkmal: str, ags: str, tenant_id: str, now: datetime
    ) -> Fund | None:
        """The person an Identifikationsmerkmal stands for, if it is valid for this tenant."""
        r = await self.conn.fetchrow(
            """SELECT p.gemeindeschluessel, p.datensatz
               FROM identifikationsmerkmale m
               JOIN personen p USING (gemeindeschluessel, ordnungsmerkmal)
               WHERE m.merkmal = $1 AND m.gemeindeschluessel = $2 AND m.tenant_id = $3
                 AND m.valid_until > $4""",
            merkmal,
            ags,
            tenant_id,
            now,
        )
        return _fund(r) if r else None

    async def forget_merkmale(self, now: datetime) -> int:
        """Deletes the Identifikationsmerkmale past their 48 hours: each links a body to the
        person it asked about. They are random (384 bits), so none is issued twice even without
        the old ones (BMeldDAV Anlage Nr. 5)."""
        deleted = await self.conn.execute(
            "DELETE FROM identifikationsmerkmale WHERE valid_until <= $1", now
        )
        return int(deleted.split()[-1])

    async def record(self, ags: str, ordnungsmerkmal: str) -> Fund | None:
        """One person's record, for a registration office's answer after manual processing."""
        r = await self.conn.fetchrow(
            """SELECT gemeindeschluessel, datensatz FROM personen
               WHERE gemeindeschluessel = $1 AND ordnungsmerkmal = $2""",
            ags,
            ordnungsmerkmal,
        )
        return _fund(r) if r else None

    async def count(self) -> int:
        return int(await self.conn.fetchval("SELECT count(*) FROM personen"))
