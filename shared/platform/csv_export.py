"""Exports for spreadsheets: rows of JSON objects as CSV, every top-level field a column (the
ones named first, first), nested values as JSON, and no cell a spreadsheet would run as a formula
(CSV injection: a value starting with =, +, -, @, a tab or a carriage return is quoted as text).
The protocol log's evaluations and the accounts' audit export use it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    text = (
        json.dumps(value, ensure_ascii=False)
        if isinstance(value, dict | list)
        else ("" if value is None else str(value))
    )
    return "'" + text if text.startswith(_FORMULA_START) else text


def as_csv(rows: Sequence[dict[str, Any]], first: Iterable[str] = ()) -> str:
    columns = [c for c in first if any(c in r for r in rows)]
    for r in rows:
        columns += [k for k in r if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([cell(r.get(c)) for c in columns])
    return out.getvalue()
