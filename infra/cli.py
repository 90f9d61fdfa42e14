"""`bedrock-spend` command line: one sub-command per module under `infra.commands`.

Each command module exposes ``register(subparsers) -> None`` which adds its parser and sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command modules, in the order `--help` lists them. Adding a command = one module + one line here.
COMMANDS: tuple[str, ...] = (
    "demo",
    "route",
    "logs",
    "report",
    "bill",
    "pricing",
    "local",
    "backfill",
    "reconcile",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="bedrock-spend",
        description="Price every Amazon Bedrock invocation and attribute it to the entity that made it.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"infra.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
