"""Shared ``--data DIR | --athena WORKGROUP --database DB`` options of ``report`` and ``bill``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infra.analytics.athena import DEFAULT_TABLE, AthenaRunner, Progress
from infra.analytics.local import LocalRunner
from infra.analytics.results import Runner


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the data-source options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data", type=Path, metavar="DIR", help="local directory holding spend/entity_type=..."
    )
    source.add_argument("--athena", metavar="WORKGROUP", help="run in Athena in this workgroup")
    parser.add_argument("--database", help="Glue database of the spend table (with --athena)")
    parser.add_argument(
        "--table", default=DEFAULT_TABLE, help=f"table to query in Athena (default {DEFAULT_TABLE})"
    )
    parser.add_argument("--region", help="AWS region of Athena (default: the SDK's)")


def make_runner(args: argparse.Namespace, athena_client: Any | None = None, quiet: bool = False) -> Runner:
    """A local or Athena runner from parsed options (the Athena client is created when not given)."""
    if args.data is not None:
        return LocalRunner(args.data)
    if not args.database:
        raise SystemExit("--athena needs --database")
    if athena_client is None:
        import boto3

        athena_client = boto3.client("athena", region_name=args.region)
    on_progress = None
    if not quiet:
        from rich.console import Console

        console = Console(stderr=True)

        def on_progress(progress: Progress) -> None:
            console.print(
                f"[dim]{progress.query_execution_id} {progress.state} {progress.elapsed_seconds:.1f} s, "
                f"{progress.scanned_bytes:,} bytes scanned[/dim]"
            )

    return AthenaRunner(athena_client, args.athena, args.database, table=args.table, on_progress=on_progress)
