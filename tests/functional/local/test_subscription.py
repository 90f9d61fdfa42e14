"""Functional: the CloudWatch Logs subscription emulator on moto's Logs, into the engine."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.firehose_engine import FirehoseEngine
from infra.local.subscription import SubscriptionFilterEmulator, decode_record
from tests.unit.local.support import FakeS3, description

pytestmark = pytest.mark.functional

REGION = "us-east-1"
GROUP = "/aws/bedrock/modelinvocations"
SAMPLE_CONTROL = Path("/work/shared/samples/cwl-control-message.json")
T0 = (int(time.time()) - 600) * 1000  # PutLogEvents rejects events older than 14 days


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        client.create_log_group(logGroupName=GROUP)
        for stream in ("aws/bedrock/modelinvocations", "other"):
            client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        yield client


def _put(logs: Any, stream: str, messages: list[str], t0: int = T0) -> None:
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(messages)],
    )


def test_envelopes_decode_to_the_original_events_grouped_by_stream(logs: Any) -> None:
    sent: list[list[bytes]] = []
    sub = SubscriptionFilterEmulator(logs, GROUP, "to-firehose", "", sent.append)
    _put(logs, "aws/bedrock/modelinvocations", ['{"n":1}', '{"n":2}'])
    _put(logs, "other", ["plain text"])
    assert sub.poll() == 3
    envelopes = [decode_record(r) for batch in sent for r in batch]
    by_stream = {e["logStream"]: e for e in envelopes}
    main = by_stream["aws/bedrock/modelinvocations"]
    assert list(main) == ["messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents"]
    assert main["messageType"] == "DATA_MESSAGE" and main["owner"] == "123456789012"
    assert main["logGroup"] == GROUP and main["subscriptionFilters"] == ["to-firehose"]
    assert [(e["timestamp"], e["message"]) for e in main["logEvents"]] == [
        (T0, '{"n":1}'),
        (T0 + 1, '{"n":2}'),
    ]
    assert all(isinstance(e["id"], str) for e in main["logEvents"])
    assert [e["message"] for e in by_stream["other"]["logEvents"]] == ["plain text"]


def test_polling_remembers_where_it_stopped(logs: Any) -> None:
    sent: list[bytes] = []
    sub = SubscriptionFilterEmulator(logs, GROUP, "f", "", sent.extend)
    _put(logs, "other", ["a", "b"])
    assert sub.poll() == 2
    assert sub.poll() == 0
    _put(logs, "other", ["c"], t0=T0 + 10)
    assert sub.poll() == 1
    assert [e["message"] for r in sent for e in decode_record(r)["logEvents"]] == ["a", "b", "c"]


def test_envelopes_are_bounded_in_events_and_size(logs: Any) -> None:
    sent: list[bytes] = []
    sub = SubscriptionFilterEmulator(
        logs, GROUP, "f", "", sent.extend, max_events_per_record=3, max_record_bytes=10_000
    )
    _put(logs, "other", [f"m{i}" for i in range(7)])
    _put(logs, "aws/bedrock/modelinvocations", ["x" * 4000 for _ in range(4)])
    assert sub.poll() == 11
    envelopes = [decode_record(r) for r in sent]
    assert all(len(e["logEvents"]) <= 3 for e in envelopes)
    assert all(len(json.dumps(e, separators=(",", ":"))) <= 10_000 for e in envelopes)
    other = [m["message"] for e in envelopes if e["logStream"] == "other" for m in e["logEvents"]]
    assert other == [f"m{i}" for i in range(7)]


def test_filter_pattern_is_passed_to_filter_log_events(logs: Any) -> None:
    sent: list[bytes] = []
    sub = SubscriptionFilterEmulator(logs, GROUP, "f", "ERROR", sent.extend)
    _put(logs, "other", ["ok", "an ERROR here", "fine"])
    assert sub.poll() == 1
    assert decode_record(sent[0])["logEvents"][0]["message"] == "an ERROR here"


def test_control_message_matches_the_sample() -> None:
    sample = json.loads(SAMPLE_CONTROL.read_text()) if SAMPLE_CONTROL.exists() else None
    ours = decode_record(SubscriptionFilterEmulator.control_message())
    assert ours["messageType"] == "CONTROL_MESSAGE" and ours["owner"] == "CloudwatchLogs"
    if sample is not None:
        assert set(ours) == set(sample)
        assert ours["logEvents"][0]["message"] == sample["logEvents"][0]["message"]


def test_subscription_feeds_the_engine_with_real_transformation_events(logs: Any) -> None:
    seen: list[dict[str, Any]] = []

    def transform(event: dict[str, Any]) -> dict[str, Any]:
        seen.extend(event["records"])
        out = []
        for rec in event["records"]:
            envelope = decode_record(base64.b64decode(rec["data"]))
            if envelope["messageType"] == "CONTROL_MESSAGE":
                out.append({"recordId": rec["recordId"], "result": "Dropped"})
                continue
            body = "".join(e["message"] + "\n" for e in envelope["logEvents"]).encode()
            out.append(
                {
                    "recordId": rec["recordId"],
                    "result": "Ok",
                    "data": base64.b64encode(body).decode(),
                    "metadata": {"partitionKeys": {"entity": envelope["logStream"].replace("/", "_")}},
                }
            )
        return {"records": out}

    s3 = FakeS3()
    engine = FirehoseEngine(description(), s3, transform)
    sub = SubscriptionFilterEmulator(logs, GROUP, "f", "", engine.put_records)
    sub.send_control_message()
    _put(logs, "aws/bedrock/modelinvocations", ['{"n":1}', '{"n":2}'])
    sub.poll()
    engine.flush()
    assert engine.stats.dropped == 1 and engine.stats.ok == 1
    (key,) = s3.keys("spend/entity=aws_bedrock_modelinvocations/")
    assert s3.body(key) == b'{"n":1}\n{"n":2}\n'
