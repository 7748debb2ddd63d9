"""How names, streets and dates are compared in the automated retrieval (BMeldDAV 2021, Anlage).

- Nr. 4: characters are reduced to base letters (DIN 91379 search form, ICAO-like: Ä → AE,
  ß → SS, É → E), upper case; surnames must match in full and in order; first names are split on
  spaces (not hyphens) and their order is ignored; street suffixes are written one way.
- Nr. 1: the phonetic search uses the Kölner Phonetik over the whole name, without truncation.
- Nr. 7: wildcards `?` (exactly one character) and `*` (any number), never first, never alone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# letters DIN 91379 writes as two base letters in the search form
_DIGRAPHS = {
    "Ä": "AE",
    "Ö": "OE",
    "Ü": "UE",
    "ß": "SS",
    "ẞ": "SS",
    "Æ": "AE",
    "Œ": "OE",
    "Ø": "OE",
    "Å": "AA",
    "Þ": "TH",
    "Ð": "D",
    "Ł": "L",
    "Đ": "D",
    "Ŀ": "L",
    "Ħ": "H",
    "Ŧ": "T",
    "Ŋ": "N",
    "Ĳ": "IJ",
}
_NOT_LETTER = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
WILDCARDS = frozenset("?*")


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """The search form of a name or place: base letters, upper case, single spaces; hyphens,
    apostrophes and dots separate like spaces."""
    upper = text.upper()
    out = []
    for ch in upper:
        if ch in _DIGRAPHS:
            out.append(_DIGRAPHS[ch])
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    base = _NOT_LETTER.sub(" ", "".join(out).upper())
    return _SPACES.sub(" ", base).strip()


def normalise_pattern(text: str) -> str:
    """`normalise` that keeps the wildcards `?` and `*` of a freie Suche."""
    parts = re.split(r"([?*])", text)
    return "".join(p if p in WILDCARDS else normalise(p) if p.strip() else p for p in parts)


def vornamen_set(vornamen: str | list[str]) -> list[str]:
    """First names as a sorted list of search forms: split on spaces, not on hyphens (a
    hyphenated first name is one name), order ignored."""
    names = vornamen if isinstance(vornamen, list) else [vornamen]
    return sorted({normalise(part).replace(" ", "-") for n in names for part in n.split()})


_STREET_SUFFIXES = (
    (re.compile(r"(STRASSE|STR)$"), "STR"),
    (re.compile(r"(PLATZ|PL)$"), "PL"),
    (re.compile(r"(WEG)$"), "WEG"),
    (re.compile(r"(GAESSLE|GAESSCHEN)$"), "GAESSLE"),
)


@lru_cache(maxsize=65536)
def normalise_strasse(strasse: str) -> str:
    """A street in search form with its suffix written one way: 'Hauptstraße', 'Haupt-Str.' and
    'Hauptstr' all become 'HAUPTSTR'; 'Am Markt' stays 'AM MARKT'."""
    base = normalise(strasse)
    words = base.split(" ")
    last = words[-1] if words else ""
    for pattern, suffix in _STREET_SUFFIXES:
        if pattern.search(last):
            words[-1] = pattern.sub(suffix, last)
            if len(words) > 1 and words[-1] in {"STR", "PL"}:
                # 'Haupt Str' (hyphen or space before the suffix) is the same street
                words = [*words[:-2], words[-2] + words[-1]]
            break
    return " ".join(words)


# Kölner Phonetik (Postel 1969): letter → code by its neighbours
_KP_SIMPLE = {
    **dict.fromkeys("AEIJOUY", "0"),
    "H": "",
    "B": "1",
    "F": "3",
    "V": "3",
    "W": "3",
    **dict.fromkeys("GKQ", "4"),
    "L": "5",
    **dict.fromkeys("MN", "6"),
    "R": "7",
    **dict.fromkeys("SZ", "8"),
}


def _kp_code(word: str, i: int) -> str:
    ch = word[i]
    # neighbours as one-character strings, "#" at the edges ("" would be `in` every string)
    prev = word[i - 1] if i > 0 else "#"
    nxt = word[i + 1] if i + 1 < len(word) else "#"
    if ch in _KP_SIMPLE:
        return _KP_SIMPLE[ch]
    if ch == "P":
        return "3" if nxt == "H" else "1"
    if ch in "DT":
        return "8" if nxt in "CSZ" else "2"
    if ch == "X":
        return "8" if prev in "CKQ" else "48"
    if ch == "C":
        if i == 0:
            return "4" if nxt in "AHKLOQRUX" else "8"
        if prev in "SZ":
            return "8"
        return "4" if nxt in "AHKOQUX" else "8"
    return ""  # digits and anything else carry no sound


@lru_cache(maxsize=65536)
def koelner_phonetik(text: str) -> str:
    """The Kölner Phonetik code of a whole name: all its parts as one word, no truncation."""
    word = normalise(text).replace(" ", "")
    collapsed: list[str] = []
    for digit in "".join(_kp_code(word, i) for i in range(len(word))):
        if not collapsed or collapsed[-1] != digit:
            collapsed.append(digit)
    code = "".join(collapsed)
    return code[:1] + code[1:].replace("0", "")


def has_wildcard(text: str | None) -> bool:
    return bool(text) and any(c in WILDCARDS for c in text or "")


def wildcard_fehler(text: str) -> str | None:
    """Why a wildcard pattern is not allowed (Anlage Nr. 7), or None."""
    stripped = text.strip()
    if stripped and stripped[0] in WILDCARDS:
        return "Ein Platzhalter darf nicht das erste Zeichen sein."
    if stripped and all(c in WILDCARDS for c in stripped):
        return "Ein Platzhalter darf nicht allein stehen."
    return None


def like_pattern(pattern: str) -> str:
    """A normalised wildcard pattern as an SQL LIKE pattern (with `\\` as escape)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")
