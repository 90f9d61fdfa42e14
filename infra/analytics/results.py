"""Query results and their renderings: a rich table, JSON (exact decimal numbers) and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

import msgspec

Value = str | int | float | Decimal | bool | None
_json = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True)
class QueryResult:
    """Column names, engine type names and rows of one query run."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def dicts(self) -> Iterator[dict[str, Value]]:
        """Rows as ``{column: value}``."""
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))

    def column(self, name: str) -> list[Value]:
        """Every value of one column."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def is_money(column: str) -> bool:
    """Money columns end in ``_usd`` (exact decimals)."""
    return column.endswith("_usd")


def display_usd(value: Decimal, places: int = 6) -> str:
    """A money amount rounded for display only (exports keep every digit)."""
    return f"${value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,}"


def display(column: str, value: Value) -> str:
    """One cell for the terminal table."""
    if value is None:
        return "—"
    if isinstance(value, Decimal) and is_money(column):
        return display_usd(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def to_json(results: Sequence[QueryResult], titles: Mapping[str, str], period: Mapping[str, Any]) -> bytes:
    """``{"period": ..., "queries": {name: {"title", "columns", "rows": [{...}]}}}``; money exact."""
    doc = {
        "period": dict(period),
        "queries": {
            r.name: {
                "title": titles.get(r.name, r.name),
                "columns": list(r.columns),
                "rows": [{k: _json_value(v) for k, v in row.items()} for row in r.dicts()],
            }
            for r in results
        },
    }
    return _json.encode(doc) + b"\n"


def _json_value(value: Value) -> Any:
    """Decimals as plain-notation JSON numbers (``0.000000000000``, never ``0E-12``)."""
    return msgspec.Raw(f"{value:f}".encode()) if isinstance(value, Decimal) else value


def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def to_csv(results: Sequence[QueryResult]) -> str:
    """One CSV block per query (header row first), blocks preceded by ``# <query name>``."""
    out = io.StringIO()
    for i, result in enumerate(results):
        if i:
            out.write("\n")
        out.write(f"# {result.name}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def rich_table(result: QueryResult, title: str) -> Any:
    """A :class:`rich.table.Table` of one result (money rounded to 6 decimals for display)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, (column, kind) in enumerate(zip(result.columns, result.types, strict=True)):
        numeric = is_money(column) or kind.lower().startswith(("decimal", "big", "int", "hugeint", "double"))
        widest = max([len(column), *(len(display(column, row[i])) for row in result.rows)])
        table.add_column(
            column,
            justify="right" if numeric else "left",
            overflow="fold",
            min_width=min(widest, 10 if numeric else 18),
        )
    for row in result.rows:
        table.add_row(*(display(c, v) for c, v in zip(result.columns, row, strict=True)))
    if not result.rows:
        table.caption = "no rows"
    return table


class Runner(Protocol):
    """What the report and the billing export need from a query runner (local or Athena)."""

    queries: dict[str, Any]

    def run(self, name: str, params: Mapping[str, object]) -> QueryResult:
        """Run one named query."""
        ...
