"""The chain's entries are hashed over their RFC 8785 (JSON Canonicalization Scheme) form, so an
auditor recomputes every hash with another language's JCS implementation (tests/interop), and
the entries the log has always written hash to the same bytes as before the scheme was named."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.protocol_log.domain import canonical, entry_hash


def test_keys_are_sorted_by_utf16_code_units_as_rfc_8785_section_3_2_3_shows() -> None:
    entry = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [k for k in json.loads(canonical(entry))]
    # the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33, unlike by code point
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_numbers_and_escapes_are_written_as_rfc_8785_says() -> None:
    assert canonical({"b": [1.0, 1e-7, 1e21], "a": '\u2028\n"/'}) == (
        '{"a":"\u2028\\n\\"/","b":[1,1e-7,1e+21]}'.encode()
    )


LOG_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(entry=st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), LOG_VALUES))
def test_what_the_log_writes_hashes_as_it_did_before(entry: dict[str, Any]) -> None:
    """Strings, integers, booleans, null and ASCII keys: the sorted compact UTF-8 JSON the chain
    was hashed over before is byte for byte the RFC 8785 form, so older entries still verify."""
    before = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert canonical(entry) == before.encode()
    material = f"operator|7|{'0' * 64}|{before}".encode()
    assert entry_hash("operator", 7, "0" * 64, entry) == hashlib.sha256(material).hexdigest()
