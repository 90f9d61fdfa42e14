"""Soak test: the whole local pipeline over many events in chunks, with RSS sampled over time.

``python -m bench.soak --events 1000000`` (``make soak``) starts a private moto server on a free port
(never 4566), provisions the stack from the template, and for each chunk writes Bedrock-shaped events
(small bodies) with PutLogEvents, lets the subscription, the Firehose engine with the transform, S3,
SQS and the mirror work it off, and samples this process's RSS. What the emulator keeps is pruned
between chunks (the Bedrock log stream is re-created, landed spend objects are deleted once
mirrored) so that moto's own growth does not dominate the run; the pipeline's process is measured.

Conservation is checked without re-reading S3: the mirror reads every landed spend line (its
``records`` total counts them), and every event must be there or in the error prefix.
Writes ``out/soak/samples.csv`` and ``out/soak/summary.json``; prints events/s and the RSS drift.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    """Current resident set size of this process (MB), from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def chunk_events(
    rng: random.Random, start: datetime, count: int, step: timedelta, body: int
) -> list[tuple[int, str]]:
    """``count`` chronological invocation events from ``start``, ``step`` apart."""
    from infra.local.traffic import invocation

    out: list[tuple[int, str]] = []
    for k in range(count):
        when = start + step * k
        out.append((int(when.timestamp() * 1000), json.dumps(invocation(rng, when, body, 0.02))))
    return out


def _prune(pipe: Any) -> None:
    """Forget what the emulator no longer needs: the written log events and the mirrored objects."""
    res = pipe.resources
    logs, s3 = pipe.clients("logs"), pipe.clients("s3")
    logs.delete_log_stream(logGroupName=res.bedrock_log_group, logStreamName=res.bedrock_log_stream)
    logs.create_log_stream(logGroupName=res.bedrock_log_group, logStreamName=res.bedrock_log_stream)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=res.bucket_name, Prefix=res.spend_prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=res.bucket_name, Delete={"Objects": keys})


def soak(events: int, chunk: int, body: int, out: Path) -> dict[str, Any]:
    """Run the soak; return the summary (also written to ``out``)."""
    from bench.pipeline_bench import private_pipeline
    from transform.mirror import mirror_app

    logging.disable(logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2024)
    # events spread over the last 6 hours, chronological across chunks (PutLogEvents' time limits)
    step = timedelta(hours=6) / events
    start = datetime.now(UTC) - timedelta(hours=6, minutes=5)
    samples: list[dict[str, float]] = []
    written = 0
    began = time.perf_counter()
    with private_pipeline() as pipe:
        samples.append({"events": 0, "seconds": 0.0, "rss_mb": round(rss_mb(), 1)})
        while written < events:
            n = min(chunk, events - written)
            pipe.write_events(chunk_events(rng, start + step * written, n, step, body))
            written += n
            pipe.pump()
            pipe.settle()
            _prune(pipe)
            samples.append(
                {
                    "events": written,
                    "seconds": round(time.perf_counter() - began, 2),
                    "rss_mb": round(rss_mb(), 1),
                }
            )
            print(
                f"{written:>9,} events  {samples[-1]['seconds']:>8.1f} s  RSS {samples[-1]['rss_mb']:.1f} MB"
            )
        elapsed = time.perf_counter() - began
        stats = pipe.engine.stats
        mirrored = mirror_app().mirror.totals
        error_events = stats.error_records_written  # no faults: error rows are undecodable records only
    with (out / "samples.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["events", "seconds", "rss_mb"])
        writer.writeheader()
        writer.writerows(samples)
    warm = [s["rss_mb"] for s in samples[len(samples) // 5 or 1 :]]
    summary = {
        "events": written,
        "chunk": chunk,
        "body_bytes": body,
        "seconds": round(elapsed, 1),
        "events_per_second": round(written / elapsed),
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_after_first_fifth_mb": warm[0],
        "rss_end_mb": samples[-1]["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "rss_drift_after_warmup_mb": round(warm[-1] - warm[0], 1),
        "spend_records_mirrored": mirrored.records,
        "log_events_written": mirrored.written,
        "firehose_invocations": stats.invocations,
        "firehose_failed_invocations": stats.failed_invocations,
        "error_prefix_rows": error_events,
        "conserved": mirrored.records == written and error_events == 0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--body-bytes", type=int, default=120)
    parser.add_argument("--out", type=Path, default=Path("out/soak"))
    args = parser.parse_args(argv)
    summary = soak(args.events, args.chunk, args.body_bytes, args.out)
    print(json.dumps(summary, indent=2))
    return 0 if summary["conserved"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
