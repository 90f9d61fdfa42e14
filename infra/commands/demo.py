"""`bedrock-spend demo`: the whole pipeline on the embedded emulator, then what landed."""

from __future__ import annotations

import argparse
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.local import emulator
from infra.local.clients import Clients
from infra.local.mirror_runner import export_log_groups
from infra.local.pipeline import LocalPipeline
from infra.local.summary import Summary
from infra.local.traffic import TrafficConfig, generate

CHUNK = 2_000


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline locally on the embedded emulator and show what landed",
        description="Start (or reuse) moto's server on 127.0.0.1:4566, provision the stack from "
        "infra/template.yaml, write realistic Bedrock invocation logs, and run them through the "
        "subscription, the local Firehose engine with the transform Lambda, S3, SQS and the mirror Lambda.",
    )
    parser.add_argument("--events", type=int, default=5_000, help="invocations to generate (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="traffic seed (same seed, same events)")
    parser.add_argument("--body-bytes", type=int, default=1_500, help="prompt+response size per event")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="copy the landed bucket, logs, report and billing here",
    )
    parser.add_argument(
        "--port", type=int, default=emulator.DEFAULT_PORT, help="emulator port (default 4566)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the resources in a reused emulator")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit code 1 when conservation does not hold."""
    console = Console()
    console.print("[bold]bedrock-spend demo[/] — every Bedrock invocation priced and filed under its entity")
    emu = emulator.start(port=args.port, log_dir=Path(".local"))
    console.print(f"emulator: {'started' if emu.owned else 'reusing'} moto/LocalStack at {emu.endpoint_url}")
    try:
        if not emu.owned and not args.keep:
            emulator.reset(emu)
        return _run(args, console, emu)
    finally:
        emu.stop()


def _run(args: argparse.Namespace, console: Console, emu: emulator.Emulator) -> int:
    events = generate(TrafficConfig(events=args.events, seed=args.seed, body_bytes=args.body_bytes))
    started = time.perf_counter()
    with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
        res = pipe.resources
        columns = (
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            put = bar.add_task("Bedrock → CloudWatch Logs", total=len(events))
            fh = bar.add_task("subscription → Firehose → transform", total=None)
            for i in range(0, len(events), CHUNK):
                pipe.write_events(events[i : i + CHUNK])
                bar.update(put, completed=pipe.progress.written)
                pipe.pump()
                bar.update(fh, completed=pipe.progress.delivered_records)
            pipe.subscription.poll()
            pipe.engine.flush()
            bar.update(fh, total=pipe.progress.delivered_records, completed=pipe.progress.delivered_records)
            mirror = bar.add_task("S3 → SQS → mirror → log groups", total=None)
            pipe.drain_mirror()
            bar.update(
                mirror, total=pipe.progress.mirrored_messages, completed=pipe.progress.mirrored_messages
            )
        elapsed = time.perf_counter() - started
        summary = pipe.summary(len(events))
        render(console, summary, elapsed, res.bucket_name, res.spend_prefix)
        if args.out:
            _export(console, pipe, args.out, summary)
    return 0 if summary.conserved and summary.mirrored == summary.records else 1


def _usd(value: Decimal) -> str:
    return f"${value:,.4f}"


def render(console: Console, s: Summary, elapsed: float, bucket: str, prefix: str) -> None:
    """Print the summary tables."""
    console.print(
        f"\n[bold]{s.events_in:,} invocations in {elapsed:.1f} s[/] "
        f"({s.events_in / elapsed:,.0f} events/s end to end), "
        f"total estimated spend [bold]{_usd(s.total_cost)}[/]"
    )
    table = Table("entity type", "invocations", "spend", "share", title="Spend by entity type")
    for etype, n in s.by_type.most_common():
        cost = s.cost_by_type[etype]
        share = cost / s.total_cost * 100 if s.total_cost else Decimal(0)
        table.add_row(etype, f"{n:,}", _usd(cost), f"{share:.1f}%")
    console.print(table)
    table = Table("entity type", "entity", "invocations", "spend", title="Top entities")
    for entity, cost in sorted(s.cost_by_entity.items(), key=lambda kv: kv[1], reverse=True)[:10]:
        table.add_row(entity[0], entity[1], f"{s.by_entity[entity]:,}", _usd(cost))
    console.print(table)
    table = Table("model", "scope", "invocations", "spend", title="Spend by model")
    for model, cost in sorted(s.cost_by_model.items(), key=lambda kv: kv[1], reverse=True)[:10]:
        table.add_row(model[0], model[1], f"{s.by_model[model]:,}", _usd(cost))
    console.print(table)
    unpriced = {k: v for k, v in s.pricing_status.items() if k not in ("priced", "invalid")}
    console.print(
        f"dead letter (unattributed): [bold]{s.count('unattributed'):,}[/] invocations, "
        f"{_usd(s.cost_by_type.get('unattributed', Decimal(0)))}  ·  invalid (kept with reason): "
        f"[bold]{s.count('invalid'):,}[/]  ·  not fully priced: {dict(unpriced) or 'none'}"
    )
    landed = s.records - s.count("unattributed") - s.count("invalid")
    mark = "[green]✓[/]" if s.conserved else "[red]✗[/]"
    console.print(
        f"conservation: in {s.events_in:,} = landed {landed:,} + dead letter {s.count('unattributed'):,} "
        f"+ invalid {s.count('invalid'):,} + failed {s.error_events:,} {mark}  (duplicates: {s.duplicates})"
    )
    console.print(
        f"files: {s.objects:,} objects in {len(s.partitions):,} partitions under s3://{bucket}/{prefix}"
        f"entity_type=…/entity_id=…/dt=…/  ·  error prefix: {s.error_objects} objects"
    )
    table = Table("log group", "events", title=f"Mirrored log groups ({len(s.log_groups)} created)")
    for group, n in sorted(s.log_groups.items())[:25]:
        table.add_row(group, f"{n:,}")
    if len(s.log_groups) > 25:
        table.add_row(f"… and {len(s.log_groups) - 25} more", "")
    console.print(table)
    mark = "[green]✓[/]" if s.mirrored == s.records else "[red]✗[/]"
    console.print(f"mirror: {s.mirrored:,} events in log groups for {s.records:,} spend records {mark}")


def _export(console: Console, pipe: LocalPipeline, out: Path, summary: Summary) -> None:
    """Copy the bucket (same key layout), the log groups, the HTML report and the billing export."""
    from infra.analytics import export_billing, write_html_report

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    s3 = pipe.clients("s3")
    bucket = pipe.resources.bucket_name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = out / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    export_log_groups(pipe.clients("logs"), out)
    report = write_html_report(out, out / "report.html")
    console.print(f"\nlanded bucket copied to {out}/ (same key layout); log groups as {out}/logs/*.jsonl")
    console.print(f"HTML report: {report}")
    for month in sorted(summary.months):
        result = export_billing(out, month, out)
        console.print(
            f"billing export {month}: {result.avro_path} and {result.parquet_path} "
            f"({result.line_count:,} lines, {_usd(result.total)})"
        )
