"""Every reason a request is refused with cites the current provision, to paragraph, sentence and
number (§ 34a, § 38–40 BMG as in force since 1 May 2022; BMeldDAV 2021; NMeldVO 2022). The
texts are found in the code itself, so a new reason cannot go without a line here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# grund -> the citations its texts must carry (each text one of them); None: the operator's own
# rule or a technical condition, no statute to cite
CITATIONS: dict[str, tuple[str, ...] | None] = {
    "ABRUFER_UNKLAR": ("§ 40 Abs. 1 Nr. 6 BMG",),
    "AGS_NICHT_EINDEUTIG": ("BMeldDAV Anlage Nr. 2",),
    "AGS_UNGUELTIG": None,
    "ANFRAGENDER_GESPERRT": None,
    "ANFRAGENDER_UNBEKANNT": None,
    "DATENELEMENT_NICHT_ZULAESSIG": ("§ 34 Abs. 1 Satz 2, § 34a Abs. 2 und 3 BMG",),
    "ERKLAERUNG_FEHLT": ("§ 44 Abs. 3 Nr. 2 BMG",),
    "ERSTANMELDUNG_OFFEN": None,
    "FORMAT": None,
    "FREIWILLIGE_LEISTUNG": ("§ 34 Abs. 6 BMG",),
    "GEWERBLICHER_ZWECK_FEHLT": ("§ 44 Abs. 1 Satz 2 BMG",),
    "IDENTIFIKATIONSMERKMAL_UNGUELTIG": ("§ 9 BMeldDAV",),
    "KRITERIUM_NICHT_ZULAESSIG": ("§ 38 Abs. 1 und 2 BMG",),
    "MANDANT_EINGESCHRAENKT": None,  # the operator's terms of access (seed 000)
    "MANDANT_NICHT_AKTIV": None,
    "NUR_ZENTRALE_STELLE": ("§ 26 Abs. 1 NMeldVO",),
    "ABRUFENDE_STELLE_FEHLT": ("§ 26 Abs. 1 NMeldVO",),
    "ANTWORTSCHLUESSEL_FEHLT": ("§ 10 Abs. 2 BMG",),
    "ANTWORTSCHLUESSEL_UNGUELTIG": ("§ 10 Abs. 2 BMG",),
    "DATENSATZ_ENTFALLEN": None,  # a fact of the register, no rule
    "MANDANT_GESPERRT": None,
    "MANDANT_UNBEKANNT": None,
    "MELDEBEHOERDE_ZUSTAENDIG": ("§ 5 Abs. 1 Satz 4, § 2 Abs. 1 Nds. AG BMG",),
    "MINDESTKRITERIEN": ("§ 38 Abs. 1 BMG", "§ 38 Abs. 2 BMG"),
    "NUTZER_GESPERRT": ("§ 39 Abs. 1 BMG",),
    "NUTZER_UNBEKANNT": ("§ 39 Abs. 1 BMG",),
    "NUR_PORTALANFRAGEN": None,  # the offices' endpoint is the portal's; bodies use the mirror
    "PFLICHTANGABE_FEHLT": ("§ 11 Satz 1 Nr. 6 BMeldDAV", "§ 11 Satz 1 BMeldDAV"),
    "PLATZHALTER_MIT_PHONETIK": ("§ 7 BMeldDAV, Anlage Nr. 7",),
    "PLATZHALTER_UNZULAESSIG": ("§ 4 Abs. 7 BMeldDAV", "BMeldDAV Anlage Nr. 7", "§ 49 Abs. 4 BMG"),
    "PORTALANFRAGE_UNVOLLSTAENDIG": None,
    "PROTOKOLLIERUNG_FEHLT": ("§ 40 Abs. 3 BMG",),
    "SUCHBEREICH": None,
    "TECHNISCHER_FEHLER": None,
    "TEXT_ZU_LANG": None,
    "VERFAHREN_GESPERRT": ("§ 26 Abs. 2 NMeldVO",),
    "VERFAHREN_UNBEKANNT": ("§ 26 Abs. 2 NMeldVO",),
    "ZERTIFIKAT_ABWEICHEND": ("§ 34 Abs. 2 Satz 3 BMG",),
    "ZUGANGSART_FEHLT": None,
    "ZU_VIELE_TREFFER": ("§ 1 Abs. 4 BMeldDAV",),
    "ZWECK_UNZULAESSIG": ("§ 44 Abs. 3 Nr. 2 BMG",),
}
# citations the review found wrong; none may come back
WRONG = ("§ 11 Nr. 6 BMeldDAV", "§ 10 Abs. 1 BMG", "§ 38 Abs. 1 Nr.")


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def reasons() -> list[tuple[str, str, str]]:
    """(grund, text, file) of every refusal the retrieval path and the portal can give."""
    found = []
    for package in ("services", "shared"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for call in ast.walk(ast.parse(path.read_text())):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                args = [_text(a) for a in call.args]
                if name == "ablehnung" and len(args) == 3 and args[1]:
                    found.append((args[1], args[2] or "", str(path.relative_to(ROOT))))
                elif name == "_abgelehnt" and len(args) >= 2 and args[0]:
                    found.append((args[0], args[1] or "", str(path.relative_to(ROOT))))
    return found


REASONS = reasons()


def test_the_scan_finds_the_reasons() -> None:
    assert len(REASONS) > 40
    assert {g for g, _, _ in REASONS} == set(CITATIONS)


# a technical error's text is the situation's (which register did not answer), not the law's
WORDED = [r for r in REASONS if r[0] != "TECHNISCHER_FEHLER"]


@pytest.mark.parametrize(("grund", "text", "where"), WORDED, ids=[f"{g}@{w}" for g, _, w in WORDED])
def test_each_reason_cites_its_provision(grund: str, text: str, where: str) -> None:
    wanted = CITATIONS[grund]
    assert text, (grund, where)
    assert not any(w in text for w in WRONG), (grund, where, text)
    if wanted is not None:
        assert any(c in text for c in wanted), (grund, where, text)
