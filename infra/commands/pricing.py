"""``bedrock-spend pricing``: check the catalogue against the AWS Price List, or explain a model id.

* ``pricing check [--region R] [--threshold PCT] [--update FILE]`` reads current Bedrock prices with
  ``pricing:GetProducts`` (endpoint us-east-1, service codes ``AmazonBedrock`` and
  ``AmazonBedrockFoundationModels``, filtered by ``regionCode``), maps usage types to catalogue rates
  (:mod:`infra.price_list`), prints a drift table and exits 1 when a rate differs by more than the
  threshold (or AWS lists a rate the catalogue lacks); ``--update FILE`` writes a new catalogue version
  with dated entries for the differences instead (exit 0).
* ``pricing show MODEL_ID [--region R] [--date D]`` prints how the id resolves and which rates apply.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from infra.price_list import PRICING_REGION, compare, fetch, updated_catalogue
from transform.pricing import Catalogue, PricingConfigError
from transform.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``pricing`` sub-command with ``check`` and ``show``."""
    parser = subparsers.add_parser(
        "pricing", help="check or explain the pricing catalogue", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser("check", help="compare the catalogue with the AWS Price List")
    check.add_argument("--region", default="us-east-1", help="regionCode to check (default us-east-1)")
    check.add_argument("--threshold", default="0", help="allowed difference in percent (default 0)")
    check.add_argument("--update", type=Path, metavar="FILE", help="write a new catalogue version to FILE")
    check.add_argument("--catalogue", type=Path, help=argparse.SUPPRESS)
    check.set_defaults(func=run_check)
    show = actions.add_parser("show", help="explain how a model id resolves and which rates apply")
    show.add_argument("model_id", metavar="MODEL_ID")
    show.add_argument("--region", default="us-east-1")
    show.add_argument("--date", default=None, help="YYYY-MM-DD (default today, UTC)")
    show.add_argument("--catalogue", type=Path, help=argparse.SUPPRESS)
    show.set_defaults(func=run_show)


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _catalogue_path(args: argparse.Namespace) -> Path:
    path: Path = args.catalogue or Settings.from_env().pricing_file
    return path


def pricing_client() -> Any:
    """The Price List client (the API is served from us-east-1)."""
    import boto3

    return boto3.client("pricing", region_name=PRICING_REGION)


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def run_check(
    args: argparse.Namespace,
    client: Any | None = None,
    out: Callable[[str], None] = print,
    today: str | None = None,
) -> int:
    """Print the drift table; exit 1 on drift beyond the threshold (0 with ``--update``)."""
    try:
        threshold = Decimal(str(args.threshold))
    except InvalidOperation:
        print(f"pricing check: --threshold is not a number: {args.threshold!r}", file=sys.stderr)
        return 2
    day = today or _today()
    path = _catalogue_path(args)
    raw = json.loads(path.read_text())
    catalogue = Catalogue(raw)
    rows = fetch(client or pricing_client(), args.region)
    drifts, odd = compare(catalogue, rows, args.region, day)
    out(f"catalogue {catalogue.version} vs AWS Price List, region {args.region}, {day}")
    out(f"{'model':<44} {'scope':<9} {'rate':<14} {'catalogue':>12} {'AWS':>12} {'diff %':>8}")
    failing = 0
    for d in drifts:
        pct = d.pct
        flag = pct is None or abs(pct) > threshold
        failing += flag
        diff = "new" if pct is None else f"{pct:+.2f}"
        mark = " *" if flag else ""
        cat, aws = _fmt(d.catalogue), _fmt(d.aws)
        out(f"{d.model:<44} {d.scope:<9} {d.kind:<14} {cat:>12} {aws:>12} {diff:>8}{mark}")
    reasons: dict[str, int] = {}
    for row in odd:
        reasons[row.reason] = reasons.get(row.reason, 0) + 1
    out(f"{len(drifts)} rates compared, {failing} beyond {threshold}% (*); {len(odd)} rows not mapped:")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        out(f"  {count:>5}  {reason}")
    if args.update is not None:
        new_raw, added = updated_catalogue(raw, catalogue, drifts, threshold, day)
        try:
            Catalogue(new_raw)
        except PricingConfigError as exc:
            print(f"pricing check: the updated catalogue is invalid: {exc}", file=sys.stderr)
            return 2
        args.update.write_text(json.dumps(new_raw, indent=1, ensure_ascii=False) + "\n")
        out(f"wrote {args.update}: {added} new entries, catalogue_version {new_raw['catalogue_version']}")
        return 0
    return 1 if failing else 0


def run_show(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """Print how ``MODEL_ID`` resolves and the rates in force; exit 1 when it is not priced."""
    catalogue = Catalogue.load(_catalogue_path(args))
    explained = catalogue.explain(args.model_id, args.region, args.date or _today())
    rates = explained.pop("rates", {})
    for key, value in explained.items():
        out(f"{key:<16} {', '.join(value) if isinstance(value, list) else value}")
    for kind, value in rates.items():
        out(f"  {kind:<14} {value}")
    return 0 if explained.get("status") == "priced" else 1
