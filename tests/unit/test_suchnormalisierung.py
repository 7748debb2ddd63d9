"""DIN 91379 search forms, Kölner Phonetik, street suffixes, wildcards (BMeldDAV Anlage)."""

import pytest

from shared.law.suchnormalisierung import (
    koelner_phonetik,
    like_pattern,
    normalise,
    normalise_pattern,
    normalise_strasse,
    vornamen_set,
    wildcard_fehler,
)


@pytest.mark.parametrize(
    ("raw", "search_form"),
    [
        ("Müller", "MUELLER"),
        ("Groß", "GROSS"),
        ("GROẞ", "GROSS"),
        ("José Ñúñez", "JOSE NUNEZ"),
        ("Ænesen", "AENESEN"),
        ("Dąbrowski", "DABROWSKI"),
        ("Wiśniewski", "WISNIEWSKI"),
        ("O'Connor", "O CONNOR"),
        ("  Müller-Lüdenscheidt ", "MUELLER LUEDENSCHEIDT"),
        ("Yılmaz", "YILMAZ"),
    ],
)
def test_search_form(raw: str, search_form: str) -> None:
    assert normalise(raw) == search_form


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Wikipedia", "3412"),
        ("Müller-Lüdenscheidt", "65752682"),
        ("Meyer", "67"),
        ("Christoph", "47823"),
        ("Schmidt", "862"),
        ("Breschnew", "17863"),
    ],
)
def test_koelner_phonetik_reference_codes(name: str, code: str) -> None:
    assert koelner_phonetik(name) == code


def test_spellings_that_sound_alike_share_a_code() -> None:
    assert koelner_phonetik("Meyer") == koelner_phonetik("Maier") == koelner_phonetik("Mayr")
    assert koelner_phonetik("Schmidt") == koelner_phonetik("Schmitt")
    assert koelner_phonetik("Müller") == koelner_phonetik("Mueller")
    assert koelner_phonetik("Meyer") != koelner_phonetik("Müller")


def test_first_names_split_on_spaces_not_hyphens_order_ignored() -> None:
    assert vornamen_set("Anna-Lena  Marie") == ["ANNA-LENA", "MARIE"]
    assert vornamen_set(["Marie", "Anna-Lena"]) == vornamen_set("Anna-Lena Marie")


@pytest.mark.parametrize(
    "street", ["Hauptstraße", "Hauptstrasse", "Haupt-Str.", "Hauptstr", "HAUPTSTR."]
)
def test_street_suffixes_are_written_one_way(street: str) -> None:
    assert normalise_strasse(street) == "HAUPTSTR"


def test_other_streets_keep_their_words() -> None:
    assert normalise_strasse("Am Schloßpark") == "AM SCHLOSSPARK"
    assert normalise_strasse("Kirchplatz") == "KIRCHPL"


def test_wildcards() -> None:
    assert like_pattern(normalise_pattern("Mül*er?")) == "MUEL%ER_"
    assert like_pattern(normalise_pattern("100%_x*")) == "100 X%"
    assert wildcard_fehler("*mann") is not None
    assert wildcard_fehler("?*") is not None
    assert wildcard_fehler("Ma*") is None
