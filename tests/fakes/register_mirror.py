"""register_mirror's `RegisterStore` in memory: the same search forms (`domain.suchspalten`) and
the same conditions as the store's SQL, evaluated in Python."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.register_mirror.domain import Fund, name_schluessel, suchspalten
from services.register_mirror.store import CANDIDATE_LIMIT, IssuedMerkmal
from shared.contract.events.abruf import RegisterRequest, RegisterResponse, Suchkriterien
from shared.contract.events.register import DeliveryLogged, Personendatensatz
from shared.law.suchnormalisierung import (
    has_wildcard,
    koelner_phonetik,
    normalise,
    normalise_pattern,
    normalise_strasse,
    vornamen_set,
)

Row = dict[str, Any]


def _matches(pattern: str) -> re.Pattern[str]:
    """A freie Suche's wildcards (`*`, `?`) as SQL LIKE reads them, on the normalised form."""
    parts = re.split(r"([?*])", normalise_pattern(pattern))
    return re.compile(
        "".join(".*" if p == "*" else "." if p == "?" else re.escape(p) for p in parts), re.S
    )


def _text(value: str, *, phonetic: bool, strasse: bool = False) -> Any:
    if has_wildcard(value):
        return _matches(value)
    if phonetic:
        return koelner_phonetik(value)
    return normalise_strasse(value) if strasse else normalise(value)


def _is(column_value: Any, wanted: Any) -> bool:
    if isinstance(wanted, re.Pattern):
        return column_value is not None and wanted.fullmatch(column_value) is not None
    return column_value == wanted


def _any(column_values: Sequence[Any], wanted: Any) -> bool:
    return any(_is(v, wanted) for v in column_values)


def _simple(r: Row, k: Suchkriterien) -> bool:
    if k.geburtsdatum and k.geburtsdatum_bis:
        if not (r["geburtsdatum"] and k.geburtsdatum <= r["geburtsdatum"] <= k.geburtsdatum_bis):
            return False
    elif k.geburtsdatum and r["geburtsdatum"] != k.geburtsdatum:
        return False
    if k.geschlecht and r["geschlecht"] != k.geschlecht.lower():
        return False
    return not (k.sterbedatum and r["sterbedatum"] != k.sterbedatum)


@dataclass
class MemoryRegisterStore:
    personen: dict[tuple[str, str], Row] = field(default_factory=dict)
    teile: dict[tuple[str, int], tuple[int, str, list[str]]] = field(default_factory=dict)
    lieferungen: dict[tuple[str, int], DeliveryLogged] = field(default_factory=dict)
    merkmale: dict[str, tuple[str, str, str, str, datetime, datetime]] = field(default_factory=dict)
    protokoll: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)

    def _put(self, ags: str, d: Personendatensatz, delivery_id: str | None) -> None:
        r = suchspalten(ags, d)
        r |= {"datensatz": d.model_dump_json(exclude_defaults=True), "delivery_id": delivery_id}
        self.personen[(ags, d.ordnungsmerkmal)] = r

    async def upsert(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None:
        for d in records:
            self._put(ags, d, delivery_id)

    async def remove(self, ags: str, ordnungsmerkmale: Sequence[str]) -> None:
        for om in ordnungsmerkmale:
            self.personen.pop((ags, om), None)

    async def replace_all(
        self, ags: str, records: Sequence[Personendatensatz], delivery_id: str
    ) -> None:
        for key in [key for key in self.personen if key[0] == ags]:
            del self.personen[key]
        await self.upsert(ags, records, delivery_id)

    async def stage_part(
        self, delivery_id: str, teil: int, teile: int, ags: str, records: Sequence[Any]
    ) -> int:
        self.teile.setdefault(
            (delivery_id, teil), (teile, ags, [r.model_dump_json() for r in records])
        )
        return sum(1 for d, _ in self.teile if d == delivery_id)

    async def take_parts(self, delivery_id: str) -> list[Personendatensatz]:
        mine = sorted((teil, v) for (d, teil), v in self.teile.items() if d == delivery_id)
        for teil, _ in mine:
            del self.teile[(delivery_id, teil)]
        return [Personendatensatz.model_validate_json(r) for _, (_, _, rs) in mine for r in rs]

    async def logged_before(self, delivery_id: str, teil: int) -> bool:
        return (delivery_id, teil) in self.lieferungen

    async def log_delivery(self, entry: DeliveryLogged) -> None:
        key = (entry.delivery_id, entry.teil)
        if key in self.lieferungen:
            raise KeyError(f"duplicate key: {key}")
        self.lieferungen[key] = entry

    async def log_auskunft(
        self, request: RegisterRequest, response: RegisterResponse, daten: Sequence[str]
    ) -> None:
        n = response.nichterstellung
        self.protokoll.setdefault(
            response.vorgangsnummer,
            (
                response.answered_at,
                {
                    "anfragende": json.loads(request.anfragende.model_dump_json(exclude_none=True)),
                    "auskunftsart": request.auskunftsart.value,
                    "ergebnisstatus": response.ergebnisstatus.value
                    if response.ergebnisstatus
                    else None,
                    "nichterstellung": f"{n.code} {n.grund}" if n else None,
                    "daten": list(daten),
                    "treffer": [t.model_dump() for t in response.treffer],
                },
            ),
        )

    async def forget_auskunftsprotokoll(self, before: datetime) -> int:
        gone = [n for n, (at, _) in self.protokoll.items() if at < before]
        for n in gone:
            del self.protokoll[n]
        return len(gone)

    def _funde(self, rows: Iterable[Row]) -> list[Fund]:
        return [
            Fund(r["gemeindeschluessel"], Personendatensatz.model_validate_json(r["datensatz"]))
            for r in rows
        ]

    async def personensuche(self, ags: str, k: Suchkriterien, phonetisch: bool) -> list[Fund]:
        keys = name_schluessel(k, phonetisch)
        s = "_p" if phonetisch else "_n"

        def hit(r: Row) -> bool:
            return (
                r["gemeindeschluessel"] == ags
                and (not keys["familienname"] or r[f"familienname{s}"] == keys["familienname"])
                and (
                    not keys["frueherer_name"] or keys["frueherer_name"] in r[f"fruehere_namen{s}"]
                )
                and (not keys["vornamen"] or set(keys["vornamen"]) <= set(r[f"vornamen{s}"]))
                and (not keys["ordensname"] or r["ordensname_n"] == keys["ordensname"])
                and (not keys["kuenstlername"] or r["kuenstlername_n"] == keys["kuenstlername"])
                and _simple(r, k)
                and (not k.geburtsort or r["geburtsort_n"] == normalise(k.geburtsort))
                and (not k.sterbeort or r["sterbeort_n"] == normalise(k.sterbeort))
            )

        rows = sorted(
            (r for r in self.personen.values() if hit(r)), key=lambda r: r["ordnungsmerkmal"]
        )
        return self._funde(rows[:CANDIDATE_LIMIT])

    async def freie_suche(
        self, bereich: Iterable[str], k: Suchkriterien, phonetisch: bool, limit: int
    ) -> list[Fund]:
        codes = list(bereich)
        p = "_p" if phonetisch else "_n"
        vornamen = [] if not k.vornamen else (
            vornamen_set(k.vornamen) if not has_wildcard(k.vornamen) else [k.vornamen]
        )  # fmt: skip

        def hit(r: Row) -> bool:
            ags = r["gemeindeschluessel"]
            if not any(ags == c or (ags.startswith(c) and len(c) in (2, 5)) for c in codes):
                return False
            checks = [
                not r["gesperrt"],
                not k.familienname
                or _is(r[f"familienname{p}"], _text(k.familienname, phonetic=phonetisch)),
                not k.frueherer_name
                or _any(r[f"fruehere_namen{p}"], _text(k.frueherer_name, phonetic=phonetisch)),
                all(_any(r[f"vornamen{p}"], _text(v, phonetic=phonetisch)) for v in vornamen),
                not k.ordensname or _is(r["ordensname_n"], _text(k.ordensname, phonetic=False)),
                not k.kuenstlername
                or _is(r["kuenstlername_n"], _text(k.kuenstlername, phonetic=False)),
                not k.geburtsort or _is(r["geburtsort_n"], _text(k.geburtsort, phonetic=False)),
                not k.sterbeort or _is(r["sterbeort_n"], _text(k.sterbeort, phonetic=False)),
                not k.strasse
                or _any(r["strassen_n"], _text(k.strasse, phonetic=False, strasse=True)),
                not k.postleitzahl or k.postleitzahl in r["postleitzahlen"],
                not k.staatsangehoerigkeit
                or normalise(k.staatsangehoerigkeit) in r["staatsangehoerigkeiten"],
                not k.familienstand or r["familienstand"] == normalise(k.familienstand),
                k.waffenrechtliche_erlaubnis is None or r["waffen"] == k.waffenrechtliche_erlaubnis,
                k.sprengstoffrechtliche_erlaubnis is None
                or r["sprengstoff"] == k.sprengstoffrechtliche_erlaubnis,
                _simple(r, k),
            ]
            return all(checks)

        rows = sorted(
            (r for r in self.personen.values() if hit(r)),
            key=lambda r: (r["gemeindeschluessel"], r["ordnungsmerkmal"]),
        )
        return self._funde(rows[:limit])

    async def issue_merkmale(
        self, merkmale: Sequence[IssuedMerkmal], issued_at: datetime, valid_until: datetime
    ) -> None:
        for m in merkmale:
            if m.merkmal in self.merkmale:
                raise KeyError(f"duplicate key: {m.merkmal}")
            self.merkmale[m.merkmal] = (
                m.fund.gemeindeschluessel,
                m.fund.datensatz.ordnungsmerkmal,
                m.tenant_id,
                m.vorgangsnummer,
                issued_at,
                valid_until,
            )

    async def by_merkmal(
        self, merkmal: str, ags: str, tenant_id: str, now: datetime
    ) -> Fund | None:
        found = self.merkmale.get(merkmal)
        if found is None:
            return None
        m_ags, om, tenant, _, _, valid_until = found
        r = self.personen.get((m_ags, om))
        if r is None or m_ags != ags or tenant != tenant_id or valid_until <= now:
            return None
        return self._funde([r])[0]

    async def forget_merkmale(self, now: datetime) -> int:
        gone = [m for m, v in self.merkmale.items() if v[5] <= now]
        for m in gone:
            del self.merkmale[m]
        return len(gone)

    async def record(self, ags: str, ordnungsmerkmal: str) -> Fund | None:
        r = self.personen.get((ags, ordnungsmerkmal))
        return self._funde([r])[0] if r else None

    async def count(self) -> int:
        return len(self.personen)
