"""A deterministic synthetic register: German names and places (umlauts and ß included), movers,
deaths, name twins, Auskunftssperren and bedingte Sperrvermerke, spouses, children, ID documents
and the rarer § 34 Abs. 1 Satz 2 data. The same seed gives the same persons.

    python -m services.register_mirror.generator --state 03 --persons 1000000 [--art melderegister]

loads the register of the state given (its own schema) with COPY, replacing what the generated
municipalities had, and logs one full delivery per municipality (NMeldVO 2022 § 23 Abs. 3).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

import asyncpg

from services.register_mirror.app import service_name
from services.register_mirror.domain import Registerart
from services.register_mirror.store import COLUMNS, row
from shared.contract.events.account import Postanschrift
from shared.contract.events.register import (
    Anschrift,
    Auskunftssperre,
    Ausweis,
    Bezugsperson,
    Personendatensatz,
    Wohnungsstatus,
)
from shared.platform.db import create_pool
from shared.platform.settings import get_settings


@dataclass(frozen=True)
class Gemeinde:
    ags: str
    name: str
    plz: tuple[str, ...]
    weight: int  # share of the state's persons


GEMEINDEN: dict[str, tuple[Gemeinde, ...]] = {
    "03": (
        Gemeinde("03241001", "Hannover", ("30159", "30161", "30163", "30165", "30169"), 30),
        Gemeinde("03101000", "Braunschweig", ("38100", "38102", "38104", "38106"), 14),
        Gemeinde("03404000", "Osnabrück", ("49074", "49076", "49078"), 9),
        Gemeinde("03403000", "Oldenburg (Oldb)", ("26121", "26122", "26123"), 9),
        Gemeinde("03103000", "Wolfsburg", ("38440", "38442", "38444"), 7),
        Gemeinde("03159016", "Göttingen", ("37073", "37075", "37077"), 6),
        Gemeinde("03254021", "Hildesheim", ("31134", "31135", "31137"), 5),
        Gemeinde("03102000", "Salzgitter", ("38226", "38228", "38229"), 5),
        Gemeinde("03355022", "Lüneburg", ("21335", "21337", "21339"), 4),
        Gemeinde("03351006", "Celle", ("29221", "29223", "29225"), 4),
        Gemeinde("03241005", "Garbsen", ("30823", "30826", "30827"), 3),
        Gemeinde("03402000", "Emden", ("26721", "26723", "26725"), 2),
    ),
    "09": (
        Gemeinde("09162000", "München", ("80331", "80333", "80335", "80469", "81541"), 40),
        Gemeinde("09564000", "Nürnberg", ("90402", "90403", "90408", "90419"), 18),
        Gemeinde("09761000", "Augsburg", ("86150", "86152", "86153"), 10),
        Gemeinde("09362000", "Regensburg", ("93047", "93049", "93053"), 6),
        Gemeinde("09161000", "Ingolstadt", ("85049", "85051", "85053"), 5),
        Gemeinde("09663000", "Würzburg", ("97070", "97072", "97074"), 5),
        Gemeinde("09563000", "Fürth", ("90762", "90763", "90765"), 5),
        Gemeinde("09562000", "Erlangen", ("91052", "91054", "91056"), 4),
    ),
}


def _words(text: str) -> list[str]:
    return text.split()


NACHNAMEN = [
    *_words(
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
        "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
        "Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler "
        "Herrmann König "
        "Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel "
        "Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht "
        "Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto "
        "Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn "
        "Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Ahrens Bäcker "
        "Brinkmann Büttner Dörr Eßer Fröhlich Gößling Grün Hübner Jürgens Kämper Kößler Lührs "
        "Lüttge Mählmann Nöthen Oßwald Pöhlmann Rößler Sänger Schlüter Schößler Söhnke Stüber "
        "Tönnies Überall Vöhringer Wübbena Ziemßen Janssen Hinrichs Gerdes Eilers Onken Harms "
        "Freese Wiechmann Meinders Dierks Ahlers Bruns Cordes Dreyer Evers Fricke Gieseke Heuer "
        "Ihnen Kruse Lüders Mertens Niemeyer Oltmanns Poppe Renken Stöver Tjaden Uhlhorn Wessels "
        "Yılmaz Kaya Demir Şahin Nowak Kowalski Wiśniewski Popescu Novák Petrović Ivanović Rossi "
        "García Dubois Nguyen O'Connor Dąbrowski Çelik Öztürk Ænesen Åberg Müller-Lüdenscheidt"
    ),
    "von Bülow",
    "von der Heide",
    "zu Dohna",
    "Freiherr von Münchhausen",
]
VORNAMEN_W = _words(
    "Anna Marie Sophie Emma Mia Hannah Lena Lea Johanna Clara Greta Ida Frieda Mathilda Luisa "
    "Charlotte Emilia Paula Helene Lina Maria Ursula Monika Petra Sabine Renate Karin Brigitte "
    "Gisela Helga Ingrid Jutta Gabriele Andrea Susanne Claudia Nicole Stefanie Katrin Julia "
    "Anke Birgit Dörte Jördis Björn-Ida Zoë Chloé Maëlle Søren-Ann Anna-Lena Marie-Luise "
    "Ayşe Fatma Zeynep Agnieszka Małgorzata Ioana Thị Siobhán"
)
VORNAMEN_M = _words(
    "Jürgen Günter Klaus Hans Peter Wolfgang Michael Thomas Andreas Stefan Frank Uwe Bernd "
    "Dieter Horst Manfred Werner Helmut Gerhard Heinz Karl Walter Paul Ben Noah Leon Finn "
    "Elias Jonas Luca Felix Lukas Max Henri Emil Theo Anton Jakob Moritz Jörg Sören Björn "
    "Gößwein Karl-Heinz Hans-Jürgen Jean-Luc Ömer Mehmet Ahmet Piotr Łukasz Radu Đorđe "
    "Nguyễn Seán Joaquín"
)
STRASSEN = (
    "Hauptstraße",
    "Bahnhofstraße",
    "Schulstraße",
    "Gartenstraße",
    "Lindenallee",
    "Am Mühlenteich",
    "Königsweg",
    "Grüner Weg",
    "Schützenstraße",
    "Mühlenstraße",
    "Großer Kamp",
    "Am Schloßpark",
    "Kirchplatz",
    "Marktplatz",
    "Goethestraße",
    "Schillerstraße",
    "Friedrich-Ebert-Straße",
    "Straße des 17. Juni",
    "Birkenweg",
    "Eichendorffstraße",
    "Am Bürgerpark",
    "Lüneburger Heerstraße",
    "Fößestraße",
    "Sögestraße",
    "Überseering",
    "Kötnerholzweg",
    "Bödekerstraße",
    "An der Weißen Mühle",
    "Zur Jüdenstraße",
    "Ölmühlenweg",
)
ORTE_IM_AUSLAND = (("Istanbul", "Türkei"), ("Kraków", "Polen"), ("Wien", "Österreich"))
STAATSANGEHOERIGKEITEN = ("deutsch",) * 18 + ("türkisch", "polnisch", "rumänisch", "italienisch")
FAMILIENSTAENDE = ("ledig", "verheiratet", "geschieden", "verwitwet", "Lebenspartnerschaft")
HEIME = ("Seniorenheim Abendrot", "Frauenhaus", "Fachklinik Am Wald")


def _zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank + 5) for rank in range(n)]


class Generator:
    """Persons of one state, in order; `persons(n)` yields (AGS, record) pairs."""

    def __init__(self, land: str, seed: int = 1) -> None:
        if land not in GEMEINDEN:
            raise ValueError(f"no synthetic municipalities for Landesschlüssel {land}")
        self.land = land
        self.rng = random.Random(f"{seed}:{land}")
        self.gemeinden = GEMEINDEN[land]
        # cumulative weights once: `choices(weights=…)` would sum them again at every draw
        self._nachname_cw = list(accumulate(_zipf_weights(len(NACHNAMEN))))
        self._gemeinde_cw = list(accumulate(g.weight for g in self.gemeinden))
        self._today = date(2026, 11, 1)  # fixed, so that the same seed gives the same register
        self._stamp = datetime(2026, 11, 1, tzinfo=UTC)

    def _gemeinde(self) -> Gemeinde:
        return self.rng.choices(self.gemeinden, cum_weights=self._gemeinde_cw)[0]

    def _nachname(self) -> str:
        name = self.rng.choices(NACHNAMEN, cum_weights=self._nachname_cw)[0]
        if self.rng.random() < 0.08:  # double names
            name = f"{name}-{self.rng.choices(NACHNAMEN, cum_weights=self._nachname_cw)[0]}"
        return name

    def _datum(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))

    def _anschrift(
        self, g: Gemeinde, status: Wohnungsstatus, einzug: date, auszug: date | None = None
    ) -> Anschrift:
        return Anschrift.model_construct(
            strasse=self.rng.choice(STRASSEN),
            hausnummer=str(self.rng.randint(1, 180)) + ("a" if self.rng.random() < 0.05 else ""),
            postleitzahl=self.rng.choice(g.plz),
            wohnort=g.name,
            gemeindeschluessel=g.ags,
            status=status,
            einzugsdatum=einzug,
            auszugsdatum=auszug,
            bedingter_sperrvermerk=False,
        )

    def persons(self, count: int) -> Iterator[tuple[str, Personendatensatz]]:
        rng = self.rng
        made = 0
        while made < count:
            g = self._gemeinde()
            person = self._person(g, made)
            yield g.ags, person
            made += 1
            if made < count and rng.random() < 0.003:  # a name twin in the same municipality
                twin = person.model_copy(
                    update={
                        "ordnungsmerkmal": self._om(made),
                        "anschriften": [
                            self._anschrift(g, Wohnungsstatus.ALLEINIGE_WOHNUNG, date(2015, 1, 1))
                        ],
                        "auskunftssperre": None,
                    }
                )
                yield g.ags, twin
                made += 1
            if made < count and rng.random() < 0.02:  # moved within the state: the old record
                old = rng.choice([x for x in self.gemeinden if x.ags != g.ags])
                moved = person.model_copy(
                    update={
                        "ordnungsmerkmal": self._om(made),
                        "anschriften": [
                            self._anschrift(
                                old,
                                Wohnungsstatus.ALLEINIGE_WOHNUNG,
                                date(2005, 3, 1),
                                date(2019, 6, 30),
                            ),
                            *person.anschriften,
                        ],
                    }
                )
                yield old.ags, moved
                made += 1

    def _om(self, i: int) -> str:
        return f"{self.land}{i:010d}"

    def _person(self, g: Gemeinde, i: int) -> Personendatensatz:
        rng = self.rng
        geschlecht = rng.choices("mwdx", cum_weights=(49, 98, 99, 100))[0]
        pool = (
            VORNAMEN_M
            if geschlecht == "m"
            else VORNAMEN_W
            if geschlecht == "w"
            else (VORNAMEN_M + VORNAMEN_W)
        )
        vornamen = rng.sample(pool, k=rng.choices((1, 2, 3), cum_weights=(55, 93, 100))[0])
        geburt = self._datum(date(1926, 1, 1), date(2026, 10, 1))
        alter = (self._today - geburt).days // 365
        nachname = self._nachname()
        fruehere = [self._nachname()] if alter > 20 and rng.random() < 0.25 else []
        einzug = self._datum(max(geburt, date(1990, 1, 1)), self._today)
        anschriften = [self._anschrift(g, Wohnungsstatus.ALLEINIGE_WOHNUNG, einzug)]
        if rng.random() < 0.1:  # an earlier address in the same municipality
            anschriften.append(self._anschrift(g, Wohnungsstatus.ALLEINIGE_WOHNUNG, geburt, einzug))
        if rng.random() < 0.03:  # a secondary residence in this municipality
            anschriften[0] = anschriften[0].model_copy(
                update={"status": Wohnungsstatus.HAUPTWOHNUNG}
            )
            anschriften.append(self._anschrift(g, Wohnungsstatus.NEBENWOHNUNG, einzug))
        if rng.random() < 0.003:  # § 52: care home, shelter, treatment centre
            anschriften[0] = anschriften[0].model_copy(
                update={"bedingter_sperrvermerk": True, "strasse": rng.choice(HEIME)}
            )
        ausland = rng.random() < 0.06
        ort, staat = rng.choice(ORTE_IM_AUSLAND) if ausland else (g.name, None)
        familienstand = "ledig" if alter < 18 else rng.choice(FAMILIENSTAENDE)
        ehegatte = None
        if familienstand in ("verheiratet", "Lebenspartnerschaft"):
            ehegatte = Bezugsperson.model_construct(
                familienname=nachname,
                vornamen=[rng.choice(VORNAMEN_W if geschlecht == "m" else VORNAMEN_M)],
                geburtsdatum=self._datum(
                    geburt - timedelta(days=3000), geburt + timedelta(days=3000)
                ).strftime("%Y%m%d"),
                anschrift=f"{anschriften[0].strasse} {anschriften[0].hausnummer}, {g.name}",
                gesperrt=rng.random() < 0.005,
            )
        kinder = []
        if 25 < alter < 60 and rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                kinder.append(
                    Bezugsperson.model_construct(
                        familienname=nachname,
                        vornamen=[rng.choice(VORNAMEN_M + VORNAMEN_W)],
                        geburtsdatum=self._datum(date(2009, 1, 1), date(2026, 1, 1)).strftime(
                            "%Y%m%d"
                        ),
                        gesperrt=False,
                    )
                )
        vertreter = []
        if alter < 18:
            vertreter.append(
                Bezugsperson.model_construct(
                    familienname=nachname, vornamen=[rng.choice(VORNAMEN_W)], gesperrt=False
                )
            )
        ausweise = []
        if alter >= 16 and rng.random() < 0.85:
            ausgestellt = self._datum(date(2017, 1, 1), date(2026, 10, 1))
            ausweise.append(
                Ausweis.model_construct(
                    art="Personalausweis",
                    seriennummer="".join(rng.choices("CFGHJKLMNPRTVWXYZ0123456789", k=9)),
                    ausstellungsbehoerde=f"Stadt {g.name}",
                    ausstellungsdatum=ausgestellt,
                    gueltig_bis=ausgestellt + timedelta(days=3652),
                )
            )
        tot = alter > 60 and rng.random() < 0.03
        sperre = None
        if rng.random() < 0.005:
            polizei = rng.random() < 0.2  # set at a security authority's request (§ 34 Abs. 5)
            sperre = Auskunftssperre.model_construct(
                bis=self._datum(date(2027, 1, 1), date(2028, 10, 1)),
                veranlassende_behoerde="Polizeidirektion" if polizei else None,
                veranlasst_von_sicherheitsbehoerde=polizei,
                # where its notices go (§ 34 Abs. 5 BMG); no draw, so the records stay the same
                veranlassende_behoerde_anschrift=Postanschrift.model_construct(
                    first_name="",
                    surname="",
                    authority_name=f"Polizeidirektion {g.name}",
                    office_name="Zentrale Kriminalitätsbekämpfung",
                    street_and_number="Polizeiplatz 1",
                    postcode=anschriften[0].postleitzahl,
                    town=g.name,
                )
                if polizei
                else None,
            )
        return Personendatensatz.model_construct(
            ordnungsmerkmal=self._om(i),
            familienname=nachname,
            fruehere_namen=fruehere,
            vornamen=vornamen,
            doktorgrad="Dr." if alter > 30 and rng.random() < 0.02 else None,
            ordensname=None,
            kuenstlername="DJ " + nachname.upper() if rng.random() < 0.0005 else None,
            geburtsdatum=geburt.strftime("%Y%m%d"),
            geburtsort=ort,
            geburtsstaat=staat,
            geschlecht=geschlecht,
            staatsangehoerigkeiten=[rng.choice(STAATSANGEHOERIGKEITEN)],
            anschriften=anschriften,
            gesetzlicher_vertreter=vertreter,
            familienstand=familienstand,
            eheschliessung_datum=None,
            eheschliessung_ort=None,
            ehegatte=ehegatte,
            kinder=kinder,
            ausweise=ausweise,
            passversagung=[],
            waffenrechtliche_erlaubnis=rng.random() < 0.01,
            sprengstoffrechtliche_erlaubnis=rng.random() < 0.002,
            wohnungsgeber="Wohnungsbaugesellschaft " + g.name if rng.random() < 0.5 else None,
            sterbedatum=self._datum(date(2020, 1, 1), self._today).strftime("%Y%m%d")
            if tot
            else None,
            sterbeort=g.name if tot else None,
            auskunftssperre=sperre,
        )


@dataclass(frozen=True)
class Loaded:
    """What `load` did, and where its time went: a real register arrives as delivered records,
    so the seconds spent making synthetic persons are not part of loading one."""

    persons: int
    generating_seconds: float
    copying_seconds: float
    indexing_seconds: float

    @property
    def loading_seconds(self) -> float:
        return self.copying_seconds + self.indexing_seconds


async def load(pool: asyncpg.Pool, land: str, count: int, seed: int, batch: int = 20_000) -> Loaded:
    """Replaces the generated municipalities' records with `count` synthetic persons."""
    gen = Generator(land, seed)
    delivery_id = f"synthetic-{land}-{seed}-{count}"
    generating = copying = 0.0
    async with pool.acquire() as conn:
        indexes = await conn.fetch(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE schemaname = current_schema() AND tablename = 'personen'
                 AND indexname <> 'personen_pkey'"""
        )
        async with conn.transaction():
            await conn.execute(
                "DELETE FROM personen WHERE gemeindeschluessel = ANY($1)",
                [g.ags for g in gen.gemeinden],
            )
            for ix in indexes:  # building them once after the load is faster than keeping them
                await conn.execute(f"DROP INDEX {ix['indexname']}")
            per_ags: dict[str, int] = {}
            persons = gen.persons(count)
            while True:
                started = time.perf_counter()
                rows = []
                for ags, person in itertools.islice(persons, batch):
                    rows.append(row(ags, person, delivery_id))
                    per_ags[ags] = per_ags.get(ags, 0) + 1
                generated = time.perf_counter()
                generating += generated - started
                if not rows:
                    break
                await conn.copy_records_to_table("personen", records=rows, columns=COLUMNS)
                copying += time.perf_counter() - generated
            started = time.perf_counter()
            for ix in indexes:
                await conn.execute(ix["indexdef"])
            indexing = time.perf_counter() - started
            now = datetime.now(UTC)
            for g in gen.gemeinden:
                await conn.execute(
                    """INSERT INTO lieferungen (delivery_id, teil, teile, absender_ags,
                           absender_name, art, anzahl_datensaetze, anzahl_entfernt, status,
                           empfangen_am)
                       VALUES ($1, 1, 1, $2, $3, 'vollbestand', $4, 0, 'applied', $5)
                       ON CONFLICT DO NOTHING""",
                    f"{delivery_id}-{g.ags}",
                    g.ags,
                    g.name,
                    per_ags.get(g.ags, 0),
                    now,
                )
        started = time.perf_counter()
        await conn.execute("ANALYZE personen")
        indexing += time.perf_counter() - started
    return Loaded(count, generating, copying, indexing)


def loaded_line(loaded: Loaded, total_seconds: float) -> str:
    return (
        f"{loaded.persons:,} persons in {total_seconds:.1f} s: generating the synthetic persons "
        f"{loaded.generating_seconds:.1f} s, loading them {loaded.loading_seconds:.1f} s "
        f"(COPY {loaded.copying_seconds:.1f} s, indexes and statistics "
        f"{loaded.indexing_seconds:.1f} s, {loaded.persons / loaded.loading_seconds:,.0f}/s)"
    )


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", default="03", help="Landesschlüssel of the register to load")
    parser.add_argument(
        "--art",
        type=Registerart,
        default=Registerart.MELDEREGISTERDATENSPIEGEL,
        choices=list(Registerart),
        help="the state's mirror, or the registration offices' registers the portal asks",
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--if-empty", action="store_true", help="load only if the register holds nobody yet"
    )
    args = parser.parse_args()
    settings = get_settings()
    pool = await create_pool(
        settings.database_url, service_name(args.state, args.art), "services.register_mirror"
    )
    started = time.perf_counter()
    try:
        if args.if_empty and await pool.fetchval("SELECT EXISTS (SELECT 1 FROM personen)"):
            print(f"[generator] {args.art} {args.state} already loaded", file=sys.stderr)
            return
        loaded = await load(pool, args.state, args.persons, args.seed)
    finally:
        await pool.close()
    took = loaded_line(loaded, time.perf_counter() - started)
    print(f"[generator] {args.art} {args.state}: {took}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(_main())
