"""``bedrock-spend reconcile``: the month's Bedrock bill (Cost Explorer) next to the attributed spend.

Per day: billed, the token usage inside it, attributed (by entity type), unattributed, invalid
records, and the unexplained gap in $ and % of token usage. Exit code 1 when a complete day or the
month has an unexplained gap above ``--threshold`` percent (or, with ``--max-unattributed``, when
unattributed spend is above that share); 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import msgspec

from infra.analytics.queries import QueryError
from infra.commands._analytics_source import add_source_arguments, make_runner
from infra.reconcile import EXPLANATIONS, GAP_REASONS, Reconciliation, run_reconcile


def _pct(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def register(subparsers: Any) -> None:
    """Add the ``reconcile`` sub-command."""
    parser = subparsers.add_parser(
        "reconcile",
        help="compare attributed spend with the Bedrock bill (Cost Explorer), day by day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--month", required=True, help="YYYY-MM")
    add_source_arguments(parser)
    parser.add_argument(
        "--threshold", type=_pct, default=Decimal(5), help="max unexplained gap %% (default 5)"
    )
    parser.add_argument(
        "--max-unattributed", type=_pct, metavar="PCT", help="also fail when unattributed > PCT %% of a day"
    )
    parser.add_argument(
        "--recent-days", type=int, default=2, help="last N days are shown but not judged (default 2)"
    )
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        help="extra Cost Explorer SERVICE name to include (repeatable; Bedrock ones are found by search)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(
    args: argparse.Namespace,
    ce_client: Any | None = None,
    athena_client: Any | None = None,
    today: date | None = None,
) -> int:
    """Run the reconciliation; see the module doc for exit codes."""
    if ce_client is None:
        import boto3

        ce_client = boto3.client("ce", region_name="us-east-1")  # Cost Explorer's endpoint region
    runner = make_runner(args, athena_client, quiet=args.format != "table")
    try:
        result, services = run_reconcile(
            args.month,
            runner,
            ce_client,
            threshold_pct=args.threshold,
            today=today,
            recent_days=args.recent_days,
            extra_services=tuple(args.service),
            unattributed_threshold_pct=args.max_unattributed,
        )
    except QueryError as exc:
        print(f"reconcile: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.buffer.write(to_json(result, services))
    else:
        render(result, services)
    return 0 if result.ok else 1


def _usd(value: Decimal, places: int = 4) -> str:
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"-${-rounded:,}" if rounded < 0 else f"${rounded:,}"


def _pct_text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"


def to_json(result: Reconciliation, services: list[str]) -> bytes:
    """Exact decimals as JSON numbers."""

    def num(value: Decimal | None) -> Any:
        return None if value is None else msgspec.Raw(f"{value:f}".encode())

    doc = {
        "month": result.month,
        "services": services,
        "threshold_pct": num(result.threshold_pct),
        "ok": result.ok,
        "failures": result.failures,
        "days": [
            {
                "day": line.day,
                "billed_usd": num(line.billed),
                "token_usage_usd": num(line.token_usage),
                "explained_usd": {k: num(v) for k, v in line.explained.items()},
                "attributed_usd": num(line.attributed),
                "attributed_by_type_usd": {k: num(v) for k, v in line.attributed_by_type.items()},
                "unattributed_usd": num(line.unattributed),
                "invalid_records": line.invalid,
                "unpriced_requests": line.unpriced,
                "gap_usd": num(line.gap),
                "gap_pct": num(line.gap_pct),
                "estimated": line.estimated,
                "recent": line.recent,
            }
            for line in result.lines
        ],
        "gap_pct": num(result.gap_pct),
        "known_gap_sources": {"explained_by_bill_lines": EXPLANATIONS, "unexplained_gap": list(GAP_REASONS)},
    }
    return msgspec.json.encode(doc) + b"\n"


def render(result: Reconciliation, services: list[str]) -> None:
    """Rich table plus the explanations."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"Bedrock bill vs attributed spend — {result.month}",
        title_justify="left",
        header_style="bold",
    )
    for column in (
        "day", "billed", "token usage", "not per-token", "attributed", "unattributed",
        "invalid", "unpriced", "gap $", "gap %", "",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column in ("day", "") else "right")
    for line in result.lines:
        flag = "estimated" if line.estimated else "recent" if line.recent else ""
        pct = line.gap_pct
        bad = line.judged() and pct is not None and abs(pct) > result.threshold_pct
        table.add_row(
            line.day,
            _usd(line.billed),
            _usd(line.token_usage),
            _usd(sum(line.explained.values(), Decimal(0))),
            _usd(line.attributed),
            _usd(line.unattributed),
            f"{line.invalid:,}",
            f"{line.unpriced:,}",
            _usd(line.gap),
            f"[red]{_pct_text(pct)}[/]" if bad else _pct_text(pct),
            flag,
        )
    table.add_section()
    table.add_row(
        "total",
        _usd(result.total("billed")),
        _usd(result.total("token_usage")),
        _usd(result.total("billed") - result.total("token_usage")),
        _usd(result.total("attributed")),
        _usd(result.total("unattributed")),
        f"{sum(line.invalid for line in result.lines):,}",
        f"{sum(line.unpriced for line in result.lines):,}",
        _usd(result.total("gap")),
        _pct_text(result.gap_pct),
        "",
    )
    console.print(table)
    console.print(f"[dim]services: {', '.join(services)}[/]")
    explained: dict[str, Decimal] = {}
    for line in result.lines:
        for key, value in line.explained.items():
            explained[key] = explained.get(key, Decimal(0)) + value
    if explained:
        console.print("[bold]Billed but not per-token (explained by the bill's own lines):[/]")
        for key, value in explained.items():
            console.print(f"  {key:<14} {_usd(value):>12}  {EXPLANATIONS[key]}")
    console.print("[bold]Known sources of the remaining (unexplained) gap:[/]")
    for reason in GAP_REASONS:
        console.print(f"  • {reason}")
    if result.ok:
        console.print(f"[green]✓ unexplained gap within {result.threshold_pct}% on every judged day[/]")
    else:
        for failure in result.failures:
            console.print(f"[red]✗ {failure}[/]")
