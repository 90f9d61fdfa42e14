"""`bedrock-spend route ARN`: which rule attributes a principal, and why."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from transform.routing import load_router, parse_principal
from transform.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``route`` command."""
    parser = subparsers.add_parser(
        "route",
        help="explain which routing rule attributes a principal ARN, and why",
        description="Explain which routing rule attributes a principal ARN (identity.arn of a Bedrock "
        "invocation log), and why the rules before it did not match.",
    )
    parser.add_argument(
        "arn", help="principal ARN, e.g. arn:aws:sts::123456789012:assumed-role/tenant-acme/s1"
    )
    parser.add_argument(
        "--account", help="account whose logs these are (default: the principal's own account)"
    )
    parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="requestMetadata entry (repeatable)",
    )
    parser.add_argument(
        "--model-id", help="model id as logged (an application inference-profile ARN for profile-tag rules)"
    )
    parser.add_argument("--routing-file", type=Path, help="routing rules file (default: the shipped rules)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the route and the rule-by-rule explanation."""
    settings = Settings.from_env()
    router = load_router(args.routing_file or settings.routing_file, settings.allowed_accounts)
    metadata = dict(item.split("=", 1) for item in args.metadata if "=" in item)
    principal = parse_principal(args.arn)
    own = args.account or principal.account_id or "unknown"
    console = Console()
    console.print(f"principal kind: [bold]{principal.kind}[/]  fields: {dict(principal.fields)}")
    table = Table("rule", "entity type", "verdict")
    for rule, verdict in router.explain(args.arn, own, metadata, args.model_id):
        table.add_row(rule, next((r.entity_type for r in router.rules if r.name == rule), "-"), verdict)
    console.print(table)
    route = router.route(args.arn, own, metadata, args.model_id)
    console.print(
        f"→ [bold]{route.entity_type}[/] / [bold]{route.entity_id}[/] (name {route.entity_name!r}), "
        f"log group {route.log_group}: {route.reason}"
    )
    return 0
