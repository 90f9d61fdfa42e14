"""End to end on the local stack: Bedrock-shaped events written with PutLogEvents come out as
partitioned spend records in S3, failed records in the error prefix, and mirrored log groups."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.mirror_runner import group_events
from infra.local.pipeline import LocalPipeline
from infra.local.traffic import TrafficConfig, generate
from transform.routing import load_router
from transform.settings import Settings

pytestmark = pytest.mark.e2e
KEY = re.compile(
    r"^spend/entity_type=(?P<t>[a-z][a-z0-9_-]*)/entity_id=(?P<id>[A-Za-z0-9._#-]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/"
    r"(?P<name>[^/]+)\.gz$"
)


def objects(pipe: LocalPipeline, prefix: str) -> dict[str, bytes]:
    s3 = pipe.clients("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=pipe.resources.bucket_name, Prefix=prefix
    ):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = s3.get_object(Bucket=pipe.resources.bucket_name, Key=obj["Key"])["Body"].read()
    return out


def parses(message: str) -> bool:
    try:
        json.loads(message)
    except ValueError:
        return False
    return True


def run(pipe: LocalPipeline, events: list[tuple[int, str]]) -> None:
    for i in range(0, len(events), 1_000):
        pipe.write_events(events[i : i + 1_000])
        pipe.pump()
    pipe.settle()


def test_events_land_partitioned_conserved_and_mirrored(pipeline: LocalPipeline) -> None:
    # Given 3,000 realistic invocations from every kind of principal, 1% of them truncated
    events = generate(TrafficConfig(events=3_000, seed=21, body_bytes=800))
    # When they are written to the Bedrock log group and the pipeline settles
    run(pipeline, events)
    # Then every object sits under entity_type/entity_id/dt and holds records of that one partition
    landed = objects(pipeline, "spend/")
    assert landed
    records: list[dict[str, Any]] = []
    for key, body in landed.items():
        match = KEY.match(key)
        assert match, key
        for line in gzip.decompress(body).splitlines():
            rec = json.loads(line)
            assert (rec["entity_type"], rec["entity_id"], rec["dt"]) == (match["t"], match["id"], match["dt"])
            records.append(rec)
    # And conservation holds: every event exactly once
    idents = Counter(r["request_id"] or f"{r['log_stream']}/{r['log_event_id']}" for r in records)
    assert len(records) == len(events) and max(idents.values()) == 1
    kinds = Counter(r["entity_type"] for r in records)
    assert {"tenant", "user", "ci", "demo", "unattributed", "invalid"} <= set(kinds)
    assert kinds["invalid"] == sum(1 for _, m in events if not parses(m))
    # And re-puts happened (more Firehose records than the subscription sent) and settled
    assert pipeline.engine.stats.records_in > pipeline.subscription.records_sent
    # And the mirror wrote every record exactly once into its entity's group
    logs = pipeline.clients("logs")
    router = load_router(Settings().routing_file)
    by_group: dict[str, list[str]] = {}
    for r in records:
        group = router.log_group_for(r["entity_type"], r["entity_id"])
        by_group.setdefault(group, []).append(r["request_id"] or r["log_event_id"])
    for group, expected in by_group.items():
        mirrored = [json.loads(e["message"]) for e in group_events(logs, group)]
        assert sorted(m["request_id"] or m["log_event_id"] for m in mirrored) == sorted(expected), group
    summary = pipeline.summary(len(events))
    assert summary.conserved and summary.mirrored == len(records)
    assert summary.total_cost == sum(Decimal(str(r["estimated_cost_usd"] or 0)) for r in records)


def test_poisoned_records_land_in_the_error_prefix(pipeline: LocalPipeline) -> None:
    # Given records that are not CloudWatch Logs data, put through Firehose's real wire protocol
    firehose = boto3.client(
        "firehose",
        region_name="us-east-1",
        endpoint_url=pipeline.api.endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    poison = [b"\x1f\x8bnot really gzip", b"\xff\xfe not utf-8", b'{"messageType": "MYSTERY"}']
    response = firehose.put_record_batch(
        DeliveryStreamName=pipeline.resources.delivery_stream_name, Records=[{"Data": p} for p in poison]
    )
    assert response["FailedPutCount"] == 0
    # And some good traffic beside them
    run(pipeline, generate(TrafficConfig(events=200, seed=5, body_bytes=300, invalid_rate=0)))
    # Then the poisoned records are in the error prefix with their original bytes and the reason
    errors = objects(pipeline, "errors/")
    assert errors and all(k.startswith("errors/processing-failed/") for k in errors)
    rows = [json.loads(line) for body in errors.values() for line in gzip.decompress(body).splitlines()]
    assert sorted(base64.b64decode(r["rawData"]) for r in rows) == sorted(poison)
    assert {r["errorCode"] for r in rows} == {"Lambda.ProcessingFailed"}
    # And the good records all landed
    landed = sum(len(gzip.decompress(b).splitlines()) for b in objects(pipeline, "spend/").values())
    assert landed == 200


def test_demo_command_exports_everything(pipeline: LocalPipeline, tmp_path: Path) -> None:
    # The demo command runs on the same emulator (reused), and exits 0 only when conservation holds
    from infra.cli import main

    pipeline.close()
    code = main(
        [
            "demo",
            "--events",
            "1500",
            "--port",
            str(pipeline.clients.endpoint_url).rsplit(":", 1)[1],
            "--out",
            str(tmp_path / "demo"),
        ]
    )
    assert code == 0
    out = tmp_path / "demo"
    assert (out / "report.html").is_file()
    assert list(out.glob("spend/entity_type=*/entity_id=*/dt=*/*.gz"))
    assert list(out.glob("logs/bedrock/tenants/*.jsonl"))
    manifests = list(out.glob("billing/month=*/manifest.json"))
    assert manifests and all(json.loads(m.read_text()) for m in manifests)
