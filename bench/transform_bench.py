"""Benchmark of the transform Lambda on the issue's reference event.

The reference event: 60 CloudWatch Logs records × 50 invocations with ~3 KB bodies and mixed
principals (so re-puts happen), ~5.5 MB as Firehose hands it over. In the same run we time a plain
standard-library ``gzip.decompress`` loop over the same 60 records — the floor every CloudWatch Logs
transform pays — and report transform events/s ÷ gunzip events/s (target ≥ 1.0). The re-put client is
a real boto3 Firehose client whose HTTP send is answered in-process (serialisation and response
parsing are measured, the network is not). Peak RSS is that of a fresh process running one
invocation (target ≤ 160 MB).
"""

from __future__ import annotations

import base64
import gzip
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

RECORDS = 60
PER_RECORD = 50
BODY_BYTES = 2_700
SEED = 11
END = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def reference_event() -> tuple[dict[str, Any], list[bytes]]:
    """The reference Firehose event and its gzip payloads."""
    from infra.local.traffic import TrafficConfig, generate

    events = generate(
        TrafficConfig(
            events=RECORDS * PER_RECORD, seed=SEED, body_bytes=BODY_BYTES, invalid_rate=0.0, end=END, days=2
        )
    )
    payloads = []
    for r in range(RECORDS):
        chunk = events[r * PER_RECORD : (r + 1) * PER_RECORD]
        envelope = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/bedrock/modelinvocations",
            "logStream": "aws/bedrock/modelinvocations",
            "subscriptionFilters": ["bedrock-spend"],
            "logEvents": [
                {"id": f"{r:04d}{i:052d}", "timestamp": ts, "message": m} for i, (ts, m) in enumerate(chunk)
            ],
        }
        payloads.append(gzip.compress(json.dumps(envelope).encode(), 6))
    event = {
        "invocationId": "bench",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/bedrock-spend",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"{i:056d}",
                "approximateArrivalTimestamp": 1_762_084_800_000,
                "data": base64.b64encode(p).decode(),
            }
            for i, p in enumerate(payloads)
        ],
    }
    return event, payloads


def local_firehose_client() -> Any:
    """A real boto3 Firehose client whose HTTP layer is answered in-process with success."""
    import boto3
    from botocore.awsrequest import AWSResponse

    client = boto3.client(
        "firehose",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        endpoint_url="http://127.0.0.1:9",
    )

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Any:
            yield self.body

    def answer(request: Any, **_: Any) -> AWSResponse:
        count = len(json.loads(request.body)["Records"])
        body = json.dumps(
            {
                "FailedPutCount": 0,
                "Encrypted": False,
                "RequestResponses": [{"RecordId": str(i)} for i in range(count)],
            }
        ).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    client.meta.events.register("before-send.firehose.PutRecordBatch", answer)
    return client


def time_best(fn: Any, repeat: int) -> float:
    """Median of ``repeat`` timings (seconds)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def throughput(repeat: int = 31) -> dict[str, Any]:
    """Events/s of the handler and of the gunzip floor, measured in this one run."""
    from transform.runtime import TransformApp
    from transform.settings import Settings

    event, payloads = reference_event()
    events = RECORDS * PER_RECORD
    size = len(json.dumps(event))
    app = TransformApp(Settings(), firehose=local_firehose_client())
    outcome = app.transformer.process(event)
    app.handle(event)  # warm caches like a warm Lambda

    def gunzip_loop() -> None:
        for payload in payloads:
            gzip.decompress(payload)

    # Interleaved, so that load from other processes hits both sides alike; medians of each.
    gunzip_runs: list[float] = []
    transform_runs: list[float] = []
    for _ in range(repeat):
        gunzip_runs.append(time_best(gunzip_loop, 1))
        transform_runs.append(time_best(lambda: app.handle(event), 1))
    gunzip_s, transform_s = statistics.median(gunzip_runs), statistics.median(transform_runs)
    return {
        "event_bytes": size,
        "events": events,
        "reput_records": len(outcome.reputs),
        "transform_eps": events / transform_s,
        "gunzip_eps": events / gunzip_s,
        "ratio": gunzip_s / transform_s,
        "transform_ms": transform_s * 1000,
        "gunzip_ms": gunzip_s * 1000,
    }


def _one_invocation() -> None:
    import logging

    logging.disable(logging.CRITICAL)
    from transform.runtime import TransformApp
    from transform.settings import Settings

    event, _ = reference_event()
    app = TransformApp(Settings(), firehose=local_firehose_client())
    app.handle(event)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def peak_rss_mb() -> int:
    """Peak RSS (MB) of a fresh interpreter that builds the event and runs one invocation."""
    out = subprocess.run(
        [sys.executable, "-c", "from bench.transform_bench import _one_invocation; _one_invocation()"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def cold_import_ms() -> tuple[float, float]:
    """Median cold-import time of the handler module vs ``import boto3`` (fresh interpreters)."""

    def measure(stmt: str) -> float:
        code = f"import time; s = time.perf_counter(); {stmt}; print(time.perf_counter() - s)"
        runs = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(5)
        ]
        return statistics.median(runs) * 1000

    return measure("import transform.handler"), measure("import boto3")


def main() -> None:
    figures = throughput()
    rss = peak_rss_mb()
    handler_ms, boto3_ms = cold_import_ms()
    print(
        f"reference event: {figures['event_bytes'] / 1e6:.2f} MB, {figures['events']} invocations, "
        f"{figures['reput_records']} re-put records"
    )
    print(f"transform   {figures['transform_eps']:>12,.0f} events/s  ({figures['transform_ms']:.1f} ms)")
    print(f"gunzip only {figures['gunzip_eps']:>12,.0f} events/s  ({figures['gunzip_ms']:.1f} ms)")
    print(f"ratio transform/gunzip = {figures['ratio']:.2f}  (target >= 1.0)")
    print(f"peak RSS of one invocation = {rss} MB  (target <= 160)")
    print(
        f"cold import: transform.handler {handler_ms:.0f} ms vs import boto3 {boto3_ms:.0f} ms "
        f"(ratio {handler_ms / boto3_ms:.2f})"
    )


if __name__ == "__main__":
    main()
