"""``bedrock-spend report``: run the named queries locally (DuckDB) or in Athena and show them.

Terminal tables (rich; money rounded for display), ``--format json`` / ``csv`` (exact decimals),
and ``--html FILE`` for a self-contained report with charts.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from infra.analytics import period_label, run_report, titles_of
from infra.analytics.queries import REPORT_QUERIES, QueryError
from infra.analytics.results import to_csv, to_json
from infra.commands._analytics_source import add_source_arguments, make_runner


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report", help="spend report (terminal, JSON, CSV, HTML)", description=__doc__
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--query",
        action="append",
        choices=REPORT_QUERIES,
        metavar="NAME",
        help=f"query to run (repeatable; default all): {', '.join(REPORT_QUERIES)}",
    )
    parser.add_argument("--month", help="YYYY-MM (default: the whole history)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="override a query parameter (limit, top_models, small_output_tokens)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, athena_client: Any | None = None) -> int:
    """Run the report; returns the exit code."""
    names = tuple(args.query or REPORT_QUERIES)
    if args.html:  # the charts need these two
        names = tuple(dict.fromkeys(("spend_by_entity_day", "spend_by_model", *names)))
    runner = make_runner(args, athena_client, quiet=args.format != "table")
    try:
        results = run_report(runner, args.month, names, dict(args.param))
    except QueryError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    titles = titles_of(runner)
    shown = [results[n] for n in (args.query or REPORT_QUERIES)]
    period = {"month": args.month, "label": period_label(args.month)}
    if args.format == "json":
        sys.stdout.buffer.write(to_json(shown, titles, period))
    elif args.format == "csv":
        sys.stdout.write(to_csv(shown))
    else:
        from rich.console import Console

        from infra.analytics.results import rich_table

        console = Console()
        console.print(
            f"[bold]Bedrock spend — {period['label']}[/bold] (de-duplicated; $ rounded for display)"
        )
        for result in shown:
            console.print(rich_table(result, titles.get(result.name, result.name)))
    if args.html:
        from pathlib import Path

        from infra.analytics.html_report import build_html, write_html

        path = write_html(Path(args.html), build_html(results, titles, period_label(args.month)))
        print(f"HTML report: {path}", file=sys.stderr)
    return 0
