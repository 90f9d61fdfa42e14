"""``bedrock-spend backfill``: feed historical Bedrock invocation logs through the same transform.

Sources: the Bedrock log group (``--log-group``, ``FilterLogEvents`` over ``--start``/``--end``)
or Bedrock's S3 log delivery (``--s3-uri``). Destinations: the delivery stream (``--stream``, the
default; the deployed transform, partitioning and mirror do the rest) or ``--direct`` to the spend
prefix of ``--bucket`` (the transform runs in this process). Resumable from ``--checkpoint`` (a
local file or ``s3://bucket/key``), rate-limited with ``--max-events-per-second``. Re-running is
safe: spend records are de-duplicated by ``request_id`` downstream and direct writes overwrite.
``--local`` runs against the local stack (the embedded emulator and the project's Firehose engine).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from infra.backfill import (
    Backfill,
    CheckpointMismatch,
    DirectSink,
    LogGroupSource,
    PageDone,
    RateLimiter,
    S3Location,
    S3Source,
    StreamSink,
    open_store,
)
from infra.backfill.checkpoint import Checkpoint
from infra.backfill.sinks import Sink
from infra.backfill.sources import Source, parse_time, to_ms
from infra.local.clients import Clients

#: The template's subscription filter pattern (Mappings.Constants.Bedrock.FilterPattern).
DEFAULT_FILTER_PATTERN = ""  # the subscription filter's: every event (malformed ones become invalid records)
DEFAULT_CHECKPOINT = ".backfill-checkpoint.json"


def register(subparsers: Any) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        help="feed historical invocation logs (log group or S3) through the transform",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--log-group", help="Bedrock invocation log group (default with --local: the stack's)"
    )
    source.add_argument("--s3-uri", help="s3://bucket/prefix of Bedrock's S3 log delivery (AWSLogs/...)")
    parser.add_argument("--start", help="window start, YYYY-MM-DD or ISO date-time, UTC (inclusive)")
    parser.add_argument("--end", help="window end (exclusive; default: now)")
    parser.add_argument("--stream", help="Firehose delivery stream to put into (default mode)")
    parser.add_argument("--direct", action="store_true", help="transform here and write to the spend prefix")
    parser.add_argument("--bucket", help="bucket of the spend prefix (with --direct)")
    parser.add_argument("--spend-prefix", default="spend/", help="spend prefix (default spend/)")
    parser.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint file or s3://bucket/key (default {DEFAULT_CHECKPOINT})",
    )
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--max-events-per-second", type=float, help="rate limit (default: none)")
    parser.add_argument("--page-size", type=int, default=10_000, help="FilterLogEvents limit (max 10000)")
    parser.add_argument(
        "--filter-pattern",
        default=DEFAULT_FILTER_PATTERN,
        help="FilterLogEvents pattern (default: the subscription filter's)",
    )
    parser.add_argument("--account", help="account id owning the logs (default: from the log group ARN)")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--local", action="store_true", help="run against the local stack")
    parser.add_argument("--port", type=int, default=4566, help="emulator port with --local (default 4566)")
    parser.add_argument(
        "--seed-demo",
        type=int,
        default=0,
        metavar="N",
        help="with --local: first write N demo invocations to the log group (not delivered live)",
    )
    parser.set_defaults(func=run)


def _window(
    args: argparse.Namespace, default_days: int | None, stored: dict[str, Any] | None
) -> tuple[int | None, int | None]:
    """``[start, end)`` in ms from the options; a resumed run keeps the stored window's open ends."""
    if stored is not None:
        start_ms = to_ms(parse_time(args.start)) if args.start else stored.get("start_ms")
        end_ms = to_ms(parse_time(args.end)) if args.end else stored.get("end_ms")
        return start_ms, end_ms
    end = parse_time(args.end) if args.end else datetime.now(UTC)
    if args.start:
        start: datetime | None = parse_time(args.start)
    elif default_days is not None:
        start = end - timedelta(days=default_days)
    else:
        start = None
    return (to_ms(start) if start else None), (to_ms(end) if args.end or start else None)


def build_source(
    args: argparse.Namespace,
    clients: Clients,
    log_group: str | None,
    stored: dict[str, Any] | None = None,
) -> Source:
    """The source the options name (``stored``: the identity in an existing checkpoint)."""
    if args.s3_uri:
        stored = stored if stored and stored.get("kind") == "s3" else None
        start, end = _window(args, None, stored)
        return S3Source(clients("s3"), S3Location.parse(args.s3_uri), start, end)
    group = args.log_group or log_group
    if not group:
        raise SystemExit("backfill: name --log-group or --s3-uri")
    stored = stored if stored and stored.get("log_group") == group else None
    if not args.start and not args.local and stored is None:
        raise SystemExit("backfill: --start is required with --log-group")
    start, end = _window(args, 14, stored)
    assert start is not None and end is not None
    return LogGroupSource(
        clients("logs"),
        group,
        start,
        end,
        filter_pattern=args.filter_pattern,
        page_size=args.page_size,
        owner=args.account,
        sts=None if args.local else clients("sts"),
    )


def build_sink(args: argparse.Namespace, clients: Clients, stream: str | None, bucket: str | None) -> Sink:
    """The sink the options name."""
    if args.direct:
        from transform.pricing import Catalogue
        from transform.process import Transformer
        from transform.routing import load_router
        from transform.settings import Settings

        target = args.bucket or bucket
        if not target:
            raise SystemExit("backfill: --direct needs --bucket")
        settings = Settings.from_env()
        transformer = Transformer(
            load_router(settings.routing_file, settings.allowed_accounts),
            Catalogue.load(settings.pricing_file),
        )
        return DirectSink(clients("s3"), target, transformer, spend_prefix=args.spend_prefix)
    name = args.stream or stream
    if not name:
        raise SystemExit("backfill: name --stream (or use --direct --bucket)")
    return StreamSink(clients("firehose"), name)


def execute(
    args: argparse.Namespace,
    clients: Clients,
    console: Console,
    *,
    log_group: str | None = None,
    stream: str | None = None,
    bucket: str | None = None,
) -> Checkpoint:
    """Build source, sink and checkpoint store from ``args`` and run the backfill with a progress bar."""
    store = open_store(args.checkpoint, clients("s3") if args.checkpoint.startswith("s3://") else None)
    previous = None if args.restart else store.load()
    source = build_source(args, clients, log_group, previous.source if previous else None)
    sink = build_sink(args, clients, stream, bucket)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[events]:>10,} events"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task: TaskID = bar.add_task(f"backfill → {sink.mode}", total=None, events=0)

        def on_page(done: PageDone) -> None:
            bar.update(task, total=done.total, completed=done.page.progress, events=done.counts.events)

        job = Backfill(source, sink, store, RateLimiter(args.max_events_per_second), on_page)
        state = job.run(restart=args.restart)
        bar.update(task, completed=bar.tasks[0].total or 0, events=state.counts.events)
    return state


def report(console: Console, state: Checkpoint, checkpoint: str) -> None:
    """Print the totals and what re-running means."""
    c = state.counts
    unit = "Firehose records" if state.mode == "stream" else "spend records"
    console.print(
        f"[bold]backfill {'complete' if state.done else 'stopped'}[/] ({state.mode}, run {state.runs}): "
        f"{c.pages:,} pages, {c.events:,} events → {c.records:,} {unit}"
        + (f", {c.objects:,} objects" if state.mode == "direct" else "")
        + (f", [red]{c.failed:,} failed records (errors/backfill/)[/]" if c.failed else "")
    )
    console.print(
        f"checkpoint: {checkpoint}. Re-running is safe: pages are re-sent from the checkpoint, "
        "spend records are de-duplicated by request_id in every query, direct objects are overwritten."
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; 0 when every page was delivered, 2 on a checkpoint of another run."""
    console = Console(stderr=True)
    try:
        if args.local:
            return _run_local(args, console)
        clients = Clients(region=args.region or "us-east-1", local=False)
        if args.region is None:
            import boto3

            clients.region = boto3.session.Session().region_name or "us-east-1"
        state = execute(args, clients, console)
    except CheckpointMismatch as exc:
        console.print(f"[red]backfill: {exc}[/]")
        return 2
    report(console, state, args.checkpoint)
    return 0 if state.done and not state.counts.failed else 1


def _run_local(args: argparse.Namespace, console: Console) -> int:
    from infra.local import emulator
    from infra.local.pipeline import LocalPipeline
    from infra.local.traffic import TrafficConfig, generate

    emu = emulator.start(port=args.port, log_dir=Path(".local"))
    try:
        with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
            res = pipe.resources
            if args.seed_demo:
                written = pipe.write_events(generate(TrafficConfig(events=args.seed_demo, days=3)))
                console.print(f"wrote {written:,} demo invocations to {res.bedrock_log_group} (history)")
            clients = Clients(endpoint_url=emu.endpoint_url, overrides={"firehose": pipe.api.endpoint_url})
            state = execute(
                args,
                clients,
                console,
                log_group=res.bedrock_log_group,
                stream=res.delivery_stream_name,
                bucket=res.bucket_name,
            )
            pipe.engine.flush()
            mirrored = pipe.drain_mirror()
            console.print(
                f"local stack: {pipe.engine.stats.objects_written:,} objects delivered by Firehose, "
                f"{mirrored.received:,} S3 notifications mirrored; bucket {res.bucket_name}"
            )
    except CheckpointMismatch as exc:
        console.print(f"[red]backfill: {exc}[/]")
        return 2
    finally:
        emu.stop()
    report(console, state, args.checkpoint)
    return 0 if state.done and not state.counts.failed else 1
