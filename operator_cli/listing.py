"""What the listing commands print: a table for people, or with `-o json` one JSON document on
standard output for `jq` and scripts (the raw values, ISO 8601 times, no colours, no summary)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table, or json for scripts and jq")
]


def _text(value: Any) -> str:
    return "–" if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Column:
    key: str  # the JSON field
    header: str  # the table's heading
    show: Callable[[Any], str] = _text  # how the table shows the value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):  # what the domain's records hold besides JSON's types
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=_json_value) + "\n")


def show(
    console: Console,
    output: Output,
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    summary: str | None = None,
) -> None:
    """Rows as a table (with a summary line under it) or as a JSON array of objects."""
    rows = list(rows)
    if output is Output.JSON:
        write_json([{c.key: row.get(c.key) for c in columns} for row in rows])
        return
    table = Table(*(c.header for c in columns))
    for row in rows:
        table.add_row(*(c.show(row.get(c.key)) for c in columns))
    console.print(table)
    if summary:
        console.print(summary)


def show_one(console: Console, output: Output, fields: Mapping[str, Any]) -> None:
    """One object: a two-column table of its fields, or a JSON object."""
    if output is Output.JSON:
        write_json(dict(fields))
        return
    table = Table(show_header=False)
    for key, value in fields.items():
        table.add_row(key, _text(value))
    console.print(table)
