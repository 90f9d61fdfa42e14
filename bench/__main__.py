"""``python -m bench`` (``make bench``): every performance figure of the project, measured in one run,
printed as ONE table. Ratios compare figures taken in this same run on this same machine.

* transform throughput vs the gunzip-only floor (:mod:`bench.transform_bench`, reference event);
* peak RSS of one invocation in a fresh interpreter;
* cold import of the handler vs ``import boto3``;
* mirror PutLogEvents calls vs the minimum possible (:mod:`bench.mirror_bench`);
* end-to-end events/s of the local pipeline (:mod:`bench.pipeline_bench`, private moto port).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

# The handler logs one INFO line per invocation; the table is what this command is for.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def measure(pipeline_events: int) -> list[tuple[str, str, str, str]]:
    """``(figure, value, compared with, ratio / target)`` rows."""
    from bench import mirror_bench, pipeline_bench, transform_bench

    rows: list[tuple[str, str, str, str]] = []
    t = transform_bench.throughput()
    rows.append(
        (
            f"transform throughput ({t['events']:,} invocations, {t['event_bytes'] / 1e6:.1f} MB event)",
            f"{t['transform_eps']:,.0f} events/s",
            f"gunzip only: {t['gunzip_eps']:,.0f} events/s",
            f"{t['ratio']:.2f} (target >= 1.0)",
        )
    )
    rss = transform_bench.peak_rss_mb()
    rows.append(("peak RSS, one invocation (fresh process)", f"{rss} MB", "limit 160 MB", f"{rss / 160:.2f}"))
    handler_ms, boto3_ms = transform_bench.cold_import_ms()
    rows.append(
        (
            "cold import of transform.handler",
            f"{handler_ms:.0f} ms",
            f"import boto3: {boto3_ms:.0f} ms",
            f"{handler_ms / boto3_ms:.2f}",
        )
    )
    calls, minimum = mirror_bench.bench_mirror_calls()
    rows.append(
        (
            f"mirror PutLogEvents calls ({mirror_bench.RECORDS:,} records)",
            f"{calls} calls",
            f"minimum possible: {minimum}",
            f"{calls / minimum:.3f} (target <= 1.05)",
        )
    )
    p = pipeline_bench.throughput(pipeline_events)
    rows.append(
        (
            f"local pipeline end to end ({pipeline_events:,} events, moto)",
            f"{p['events_per_second']:,.0f} events/s",
            f"{p['seconds']:.1f} s wall clock",
            "-",
        )
    )
    return rows


def render(rows: list[tuple[str, str, str, str]]) -> str:
    """A plain-text table (also valid Markdown)."""
    header = ("figure", "value", "compared with", "ratio")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="every performance figure")
    parser.add_argument("--pipeline-events", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args(argv)
    rows = measure(args.pipeline_events)
    print(f"bedrock-spend benchmarks — Python {platform.python_version()} on {platform.machine()}, one run")
    print(render(rows))
    if args.json:
        payload: list[dict[str, Any]] = [
            dict(zip(("figure", "value", "compared", "ratio"), r, strict=True)) for r in rows
        ]
        json.dump(payload, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
