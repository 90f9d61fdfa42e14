"""Fault injection on the whole local pipeline: the real boto3 clients, endpoints from the standard
variables, servers this test controls (a private moto, the project's Firehose wire protocol).

Invariant: nothing is lost. Duplicates appear only where the design tolerates them — a transform
invocation that fails after it re-put some groups is retried by Firehose, which re-puts them again —
and the analytics queries de-duplicate them by ``request_id`` (totals equal the de-duplicated ones).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.analytics.local import LocalRunner
from infra.local.clients import Clients
from infra.local.emulator import Emulator
from infra.local.pipeline import LocalPipeline
from infra.local.summary import Summary
from infra.local.traffic import TrafficConfig, generate
from transform.mirror import mirror_app
from transform.runtime import transform_app

pytestmark = pytest.mark.e2e
EVENTS = 900
ALL_TIME = {"start_dt": "2000-01-01", "end_dt": "2100-01-01"}


def traffic(seed: int) -> list[tuple[int, str]]:
    return generate(TrafficConfig(events=EVENTS, seed=seed, body_bytes=200, days=3))


def run(emu: Emulator, seed: int, faults: Callable[[LocalPipeline], None]) -> tuple[LocalPipeline, Summary]:
    """Write the traffic through the pipeline with ``faults`` installed, settle, summarise."""
    pipe = LocalPipeline(Clients(endpoint_url=emu.endpoint_url))
    try:
        faults(pipe)
        events = traffic(seed)
        pipe.write_events(events)
        pipe.pump()
        pipe.settle()
        time.sleep(1.0)  # a stalled request may still land its records: deliver those too
        pipe.settle()
        summary = pipe.summary(len(events))
    finally:
        pipe.close()
    return pipe, summary


def export_spend(pipe: LocalPipeline, out: Path) -> int:
    """Copy the landed spend objects (same key layout); return the number of lines (duplicates too)."""
    s3 = pipe.clients("s3")
    lines = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=pipe.resources.bucket_name, Prefix=pipe.resources.spend_prefix
    ):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=pipe.resources.bucket_name, Key=obj["Key"])["Body"].read()
            target = out / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            lines += len((gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).splitlines())
    return lines


def assert_queries_deduplicate(pipe: LocalPipeline, summary: Summary, out: Path) -> int:
    """The landed data holds duplicates; ``spend_by_entity_day`` counts and prices each request once."""
    lines = export_spend(pipe, out)
    rows = list(LocalRunner(out).run("spend_by_entity_day", ALL_TIME).dicts())
    requests = sum(int(str(r["requests"])) for r in rows)
    cost = sum((Decimal(str(r["cost_usd"])) for r in rows), Decimal(0))
    assert requests == summary.records
    assert cost == summary.total_cost
    return lines - summary.records


def test_reput_partial_failures_and_throttling_lose_nothing(emu: Emulator) -> None:
    # Given PutRecordBatch failing half the records of its first 4 calls (FailedPutCount > 0) and
    # throttling calls 5 and 6 (ServiceUnavailableException, HTTP 500)
    state = {"calls": 0}
    lock = threading.Lock()

    def throttle(operation: str, stream: str) -> bool:
        with lock:
            state["calls"] += 1
            return state["calls"] in (5, 6)

    def failure(stream: str, index: int, data: bytes) -> bool:
        return state["calls"] <= 4 and index % 2 == 0

    def faults(pipe: LocalPipeline) -> None:
        pipe.api.set_throttle(throttle)
        pipe.api.set_failure(failure)

    # When the traffic goes through the pipeline
    pipe, summary = run(emu, 31, faults)
    # Then the transform's re-put adapter retried until everything was in: nothing lost, nothing twice
    assert state["calls"] > 6 and pipe.engine.stats.failed_invocations == 0
    assert summary.conserved, summary
    assert summary.mirrored == summary.records


def test_a_lambda_timeout_after_reputs_yields_only_duplicates_that_queries_remove(
    emu: Emulator, out_dir: Path
) -> None:
    # Given a transform that dies (like a Lambda timeout) after it re-put its split-off groups, on
    # the first two invocations that re-put anything
    state = {"raised": 0}

    def faults(pipe: LocalPipeline) -> None:
        real = pipe.engine._invoke
        assert real is not None

        def flaky(event: dict[str, Any]) -> dict[str, Any]:
            before = pipe.api.calls.get("PutRecordBatch", 0)
            response = real(event)
            if state["raised"] < 2 and pipe.api.calls.get("PutRecordBatch", 0) > before:
                state["raised"] += 1
                raise TimeoutError("Task timed out after 60.00 seconds")
            return response

        pipe.engine._invoke = flaky

    # When the traffic goes through the pipeline (the engine retries failed invocations)
    pipe, summary = run(emu, 32, faults)
    # Then the retries re-put the same groups again: duplicates, and nothing lost
    assert state["raised"] == 2 and pipe.engine.stats.retries == 2
    assert summary.duplicates > 0
    assert summary.records + summary.error_events == summary.events_in
    # And the queries count and price every request once
    assert assert_queries_deduplicate(pipe, summary, out_dir) == summary.duplicates


def test_a_stalled_firehose_endpoint_times_out_and_the_retry_loses_nothing(
    emu: Emulator, out_dir: Path
) -> None:
    # Given a Firehose endpoint that stalls its first PutRecordBatch call past the client's read
    # timeout and then ingests it anyway (the request did reach the server)
    stalled = {"n": 0}

    def stall(operation: str, stream: str) -> bool:
        stalled["n"] += 1
        if stalled["n"] == 1:
            time.sleep(1.5)
        return False

    def faults(pipe: LocalPipeline) -> None:
        pipe.api.set_throttle(stall)
        app = transform_app()  # endpoint from AWS_ENDPOINT_URL_FIREHOSE, as in the Lambda
        app._firehose = boto3.client(
            "firehose",
            config=Config(read_timeout=0.5, connect_timeout=0.5, retries={"total_max_attempts": 1}),
        )

    # When the traffic goes through the pipeline
    pipe, summary = run(emu, 33, faults)
    # Then the timed-out invocation failed and was retried; the stalled call's records landed too
    assert pipe.engine.stats.failed_invocations >= 1
    assert summary.records + summary.error_events == summary.events_in
    assert summary.duplicates > 0
    assert assert_queries_deduplicate(pipe, summary, out_dir) == summary.duplicates


def _fail(client: Any, operation: str, code: str, calls: set[int]) -> list[int]:
    """Make the listed calls (1-based) of ``operation`` raise ``code`` before reaching the server."""
    seen: list[int] = []
    service = client.meta.service_model.service_name

    def before_call(**_: Any) -> None:
        seen.append(1)
        if len(seen) in calls:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    client.meta.events.register(f"before-call.{service}.{operation}", before_call)
    return seen


def test_mirror_faults_in_s3_and_cloudwatch_logs_lose_and_duplicate_nothing(emu: Emulator) -> None:
    # Given S3 GetObject failing twice, PutLogEvents throttled twice (retried in the writer) and then
    # failing for good in the middle of an object (the SQS message is retried; the batches already
    # written are skipped by the per-batch idempotency)
    injected: dict[str, list[int]] = {}

    def faults(pipe: LocalPipeline) -> None:
        mirror = mirror_app().mirror
        injected["get"] = _fail(mirror.s3, "GetObject", "InternalError", {2, 5})
        attempts = set(range(12, 12 + 8))  # more than logs_max_attempts in a row
        injected["put"] = _fail(
            mirror.writer.client, "PutLogEvents", "ThrottlingException", {3, 4} | attempts
        )

    # When the traffic goes through the pipeline and the mirror drains the queue
    pipe, summary = run(emu, 34, faults)
    # Then every spend record is in its log group exactly once
    assert len(injected["get"]) > 5 and len(injected["put"]) > 20
    assert pipe.mirror_stats.failed >= 2
    assert summary.conserved, summary
    assert summary.mirrored == summary.records
