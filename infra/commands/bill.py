"""``bedrock-spend bill``: the month's billing export (Avro + Parquet + manifest), idempotent."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.analytics.billing import export_with_runner
from infra.analytics.queries import QueryError, month_period
from infra.commands._analytics_source import add_source_arguments, make_runner


def register(subparsers: Any) -> None:
    """Add the ``bill`` sub-command."""
    parser = subparsers.add_parser("bill", help="billing export of one month", description=__doc__)
    parser.add_argument("--month", required=True, help="YYYY-MM")
    add_source_arguments(parser)
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="writes DIR/billing/month=YYYY-MM/"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, athena_client: Any | None = None) -> int:
    """Write the export and print its totals; returns the exit code."""
    try:
        month_period(args.month)
    except QueryError as exc:
        print(f"bill: {exc}", file=sys.stderr)
        return 2
    runner = make_runner(args, athena_client, quiet=False)
    source = (
        f"local:{args.data.resolve()}" if args.data is not None else f"athena:{args.database}.{args.table}"
    )
    result = export_with_runner(runner, args.month, args.out, source)
    print(f"billing {result.month}: {result.line_count} lines, total ${result.total:f}")
    for path in (result.avro_path, result.parquet_path, result.manifest_path):
        print(f"  {path}")
    return 0
