"""Functional (moto in-process): backfill from Bedrock's S3 log delivery, direct to the spend prefix,
checkpointed in S3, interrupted and resumed; plus the rate limiter and the checkpoint guard."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.backfill import (
    Backfill,
    CheckpointMismatch,
    DirectSink,
    Page,
    RateLimiter,
    S3Location,
    S3Source,
    SinkResult,
    open_store,
)
from tests.analytics_data import EVENTS, INVALID_MESSAGE, invocation, transformer
from transform import codec

pytestmark = pytest.mark.functional
LOGS = "bedrock-logs"
DATA = "spend-data"
BASE = "bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LOGS)
        client.create_bucket(Bucket=DATA)
        by_hour: dict[str, list[str]] = {}
        for event in EVENTS:
            when = event[1]  # 2025-11-03T10:00:00Z
            hour = f"{when[:4]}/{when[5:7]}/{when[8:10]}/{when[11:13]}"
            by_hour.setdefault(hour, []).append(invocation(*event))
        by_hour.setdefault("2025/11/03/10", []).append(INVALID_MESSAGE)
        for hour, lines in by_hour.items():
            key = f"{BASE}/{hour}/20251103T000000000Z_{hour.replace('/', '')}.json.gz"
            client.put_object(Bucket=LOGS, Key=key, Body=gzip.compress(("\n".join(lines) + "\n").encode()))
        client.put_object(Bucket=LOGS, Key=f"{BASE}/README.txt", Body=b"not a log object")
        yield client


def _records(s3: Any, prefix: str = "spend/") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=DATA, Prefix=prefix):
        for obj in page.get("Contents", []):
            data = codec.gunzip(s3.get_object(Bucket=DATA, Key=obj["Key"])["Body"].read())
            out.extend(json.loads(line) for line in data.splitlines())
    return out


class Crash(RuntimeError):
    pass


class CrashOn:
    def __init__(self, inner: DirectSink, n: int) -> None:
        self.inner, self.n, self.mode, self.sent = inner, n, inner.mode, 0

    def send(self, page: Page) -> SinkResult:
        self.sent += 1
        if self.sent == self.n:
            raise Crash("stopped")
        return self.inner.send(page)


def test_s3_delivery_backfill_resumes_from_an_s3_checkpoint(s3: Any) -> None:
    # Given Bedrock's S3 delivery objects, November only (r-11 of October is outside the window)
    source = lambda: S3Source(s3, S3Location.parse(f"s3://{LOGS}/bedrock/"), 1761955200000, 1764547200000)  # noqa: E731
    sink = DirectSink(s3, DATA, transformer())
    store = open_store(f"s3://{DATA}/checkpoints/backfill.json", s3)
    # When the run stops at the third object and is run again
    with pytest.raises(Crash):
        Backfill(source(), CrashOn(sink, 3), store).run()
    assert (saved := store.load()) is not None and saved.counts.pages == 2
    state = Backfill(source(), sink, store).run()
    # Then every November event is there once, with routing from the key's account
    assert state.done and state.runs == 2
    records = _records(s3)
    ids = sorted(r["request_id"] for r in records if r["request_id"])
    assert ids == sorted(e[0] for e in EVENTS if e[1].startswith("2025-11"))
    assert {r["entity_type"] for r in records} >= {"tenant", "user", "ci", "unattributed", "invalid"}
    assert all(r["log_group"] == f"s3://{LOGS}" for r in records)
    assert state.counts.events == len(records)
    # And a different window does not reuse the checkpoint
    with pytest.raises(CheckpointMismatch):
        Backfill(S3Source(s3, S3Location.parse(f"s3://{LOGS}/bedrock/")), sink, store).run()


def test_rate_limiter_spaces_pages() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(100, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire(50)  # 50 events at 100/s occupy 0.5 s each
    assert slept == [0.5, 0.5, 0.5] and now[0] == 1.5
    RateLimiter(None).acquire(10**9)  # no limit: returns at once
