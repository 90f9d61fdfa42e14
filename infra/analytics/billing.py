"""Billing export: one line per entity per model per day, as Avro and Parquet, plus a manifest.

Output (fixed names, so a re-run of the same month replaces the files — written to a temporary
name and renamed)::

    <out>/billing/month=YYYY-MM/billing_lines.avro      fastavro, schemas/billing_line.avsc
    <out>/billing/month=YYYY-MM/billing_lines.parquet   pyarrow, decimal128(38, 12)
    <out>/billing/month=YYYY-MM/manifest.json           totals as exact decimal strings, sha256s

Money is :class:`~decimal.Decimal` end to end: Avro ``bytes`` with the ``decimal`` logical type
(https://avro.apache.org/docs/1.11.1/specification/#decimal) and Parquet ``decimal128``
(https://arrow.apache.org/docs/python/generated/pyarrow.decimal128.html). The manifest totals are
the Decimal sums of the lines; the lines come from the ``billing_lines`` query over de-duplicated
records, so they reconcile exactly with the source. The output is byte-for-byte reproducible (the
Avro sync marker is derived from the month, nothing records the time of the run).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import Any

from infra.analytics.queries import REPO_ROOT, month_period
from infra.analytics.results import QueryResult, Runner

BILLING_AVSC = REPO_ROOT / "schemas" / "billing_line.avsc"
AVRO_NAME = "billing_lines.avro"
PARQUET_NAME = "billing_lines.parquet"
MANIFEST_NAME = "manifest.json"
MONEY_FIELDS = (
    "input_cost_usd",
    "output_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "cost_usd",
)
COUNT_FIELDS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
)
_SCALE = Decimal(1).scaleb(-12)
_EXACT = Context(prec=38, traps=[Inexact])


class BillingError(RuntimeError):
    """The export cannot be produced exactly (e.g. an amount with more than 12 decimals)."""


@dataclass(frozen=True)
class BillingResult:
    """What :func:`export_billing` wrote."""

    month: str
    directory: Path
    avro_path: Path
    parquet_path: Path
    manifest_path: Path
    line_count: int
    total: Decimal
    totals: dict[str, Decimal | int]


def load_schema() -> dict[str, Any]:
    """The billing line Avro schema (parsed by fastavro)."""
    import fastavro

    parsed = fastavro.parse_schema(json.loads(BILLING_AVSC.read_text(encoding="utf-8")))
    assert isinstance(parsed, dict)
    return parsed


def _money(value: object, where: str) -> Decimal:
    amount = Decimal(0) if value is None else Decimal(str(value)) if not isinstance(value, Decimal) else value
    try:
        return amount.quantize(_SCALE, context=_EXACT)
    except Inexact as exc:
        raise BillingError(f"{where}: {amount} has more than 12 decimals") from exc


def billing_lines(result: QueryResult, month: str) -> list[dict[str, Any]]:
    """The query rows as billing line dicts (money quantized to exactly 12 decimals, counts int)."""
    lines: list[dict[str, Any]] = []
    for i, row in enumerate(result.dicts()):
        line: dict[str, Any] = {
            "month": month,
            "dt": str(row["dt"]),
            "entity_type": str(row["entity_type"]),
            "entity_id": str(row["entity_id"]),
            "entity_name": None if row["entity_name"] is None else str(row["entity_name"]),
            "model": str(row["model"]),
        }
        for name in COUNT_FIELDS:
            line[name] = int(str(row[name] or 0))
        for name in MONEY_FIELDS:
            line[name] = _money(row[name], f"line {i} {name}")
        lines.append(line)
    return lines


def totals(lines: Sequence[dict[str, Any]]) -> dict[str, Decimal | int]:
    """Exact sums of every count and money field."""
    sums: dict[str, Decimal | int] = {name: 0 for name in COUNT_FIELDS}
    sums.update({name: Decimal(0) for name in MONEY_FIELDS})
    for line in lines:
        for name in (*COUNT_FIELDS, *MONEY_FIELDS):
            sums[name] += line[name]
    return sums


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _avro_bytes(lines: Sequence[dict[str, Any]], month: str) -> bytes:
    import io

    import fastavro

    buffer = io.BytesIO()
    marker = hashlib.sha256(f"bedrock-spend billing {month}".encode()).digest()[:16]
    fastavro.writer(buffer, load_schema(), lines, codec="deflate", sync_marker=marker)
    return buffer.getvalue()


def arrow_schema() -> Any:
    """The Parquet (Arrow) schema of a billing line."""
    import pyarrow as pa

    fields = [
        pa.field("month", pa.string(), nullable=False),
        pa.field("dt", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("entity_name", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in COUNT_FIELDS),
        *(pa.field(name, pa.decimal128(38, 12), nullable=False) for name in MONEY_FIELDS),
    ]
    return pa.schema(fields)


def _parquet_bytes(lines: Sequence[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    table = pa.Table.from_pylist(list(lines), schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _manifest(
    month: str, source: str, lines: Sequence[dict[str, Any]], files: dict[str, bytes]
) -> dict[str, Any]:
    sums = totals(lines)
    return {
        "format": "bedrock-spend billing export v1",
        "month": month,
        "source": source,
        "line_count": len(lines),
        "totals": {k: (f"{v:f}" if isinstance(v, Decimal) else v) for k, v in sums.items()},
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        },
        "notes": "Money totals are exact decimal strings (USD). Lines exclude invalid records, which "
        "carry no tokens or cost; unpriced_requests counts invocations whose cost is unknown.",
    }


def export_with_runner(runner: Runner, month: str, out_dir: Path, source: str) -> BillingResult:
    """Run ``billing_lines`` for ``month`` with any runner and write the export."""
    period = month_period(month)
    lines = billing_lines(runner.run("billing_lines", period), month)
    directory = Path(out_dir) / "billing" / f"month={month}"
    directory.mkdir(parents=True, exist_ok=True)
    files = {AVRO_NAME: _avro_bytes(lines, month), PARQUET_NAME: _parquet_bytes(lines)}
    for name, data in files.items():
        _replace(directory / name, data)
    manifest = _manifest(month, source, lines, files)
    _replace(directory / MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    sums = totals(lines)
    total = sums["cost_usd"]
    assert isinstance(total, Decimal)
    return BillingResult(
        month,
        directory,
        directory / AVRO_NAME,
        directory / PARQUET_NAME,
        directory / MANIFEST_NAME,
        len(lines),
        total,
        sums,
    )


def export_billing(data_dir: Path, month: str, out_dir: Path) -> BillingResult:
    """Billing export of ``month`` from local spend records under ``data_dir`` (DuckDB)."""
    from infra.analytics.local import LocalRunner

    runner = LocalRunner(Path(data_dir))
    try:
        return export_with_runner(runner, month, out_dir, source=f"local:{Path(data_dir).resolve()}")
    finally:
        runner.close()
