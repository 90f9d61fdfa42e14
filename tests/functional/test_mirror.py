"""Functional tests of the mirror on moto in-process: S3 → SQS → mirror → CloudWatch Logs (+ DynamoDB)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from infra.local.mirror_runner import drain_queue, export_log_groups
from tests.mirror_support import ago, line, load_event, ndjson, notification, now, record
from transform.logs_writer import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_SPAN_MS, LogsWriter
from transform.mirror import MirrorApp
from transform.settings import Settings

pytestmark = pytest.mark.functional

BUCKET = "spend-bucket"
TABLE = "mirror-idempotency"
NO_RETRY = Config(retries={"total_max_attempts": 1})


@dataclass
class Stack:
    s3: Any
    sqs: Any
    logs: Any
    ddb: Any
    queue_url: str
    dlq_url: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: operation -> error codes to answer its next calls with (``None`` lets a call through)
    inject: dict[str, list[str | None]] = field(default_factory=dict)

    def app(self, **writer_kwargs: Any) -> MirrorApp:
        settings = Settings(idempotency_table=TABLE, log_retention_days=30)
        writer = LogsWriter(self.logs, retention_days=30, sleep=lambda _: None, **writer_kwargs)
        return MirrorApp(settings, s3=self.s3, logs=self.logs, dynamodb=self.ddb, writer=writer)

    def put(self, key: str, records: list[dict[str, Any]], compress: bool = True) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=ndjson(records, compress))

    def puts(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params in self.calls if op == operation]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        logs = boto3.client("logs", config=NO_RETRY)
        ddb = boto3.client("dynamodb")
        dlq_url = sqs.create_queue(QueueName="mirror-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName="mirror",
            Attributes={
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "spend/"}]}},
                    }
                ]
            },
        )
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        st = Stack(s3, sqs, logs, ddb, queue_url, dlq_url)

        def record_params(params: dict[str, Any], model: Any, **_: Any) -> None:
            st.calls.append((model.name, dict(params)))

        def inject_error(model: Any, **_: Any) -> Any:
            name = model.name
            pending = st.inject.get(name)
            code = pending.pop(0) if pending else None
            if code is not None:
                return (
                    _Http(400),
                    {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {}},
                )
            return None

        logs.meta.events.register("before-parameter-build.cloudwatch-logs.*", record_params)
        logs.meta.events.register("before-call.cloudwatch-logs.*", inject_error)
        yield st


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


class FakeContext:
    """The part of a Lambda context Powertools idempotency reads."""

    function_name = "mirror"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def drain(stack: Stack, app: MirrorApp) -> Any:
    return drain_queue(stack.sqs, stack.queue_url, app.handle, FakeContext())


def exported(stack: Stack, tmp_path: Path) -> dict[str, list[str]]:
    counts = export_log_groups(stack.logs, tmp_path)
    out = {}
    for group in counts:
        path = tmp_path / "logs" / (group.lstrip("/") + ".jsonl")
        out[group] = path.read_text().splitlines()
    return out


def key(entity_type: str, entity_id: str, dt: str, name: str) -> str:
    return f"spend/entity_type={entity_type}/entity_id={entity_id}/dt={dt}/{name}"


def assert_batches_within_limits(stack: Stack) -> None:
    for params in stack.puts("PutLogEvents"):
        events = params["logEvents"]
        stamps = [e["timestamp"] for e in events]
        assert len(events) <= MAX_BATCH_EVENTS
        assert sum(len(e["message"].encode()) + 26 for e in events) <= MAX_BATCH_BYTES
        assert stamps == sorted(stamps)
        assert stamps[-1] - stamps[0] < MAX_SPAN_MS


def test_given_mixed_objects_when_drained_then_every_record_is_mirrored_exactly_once(
    stack: Stack, tmp_path: Path
) -> None:
    # Given: tenants, a user with an escaped id, unattributed and invalid records, in gzip and plain
    # objects, one object mixing partitions, records out of order, one from a mirrored group (loop)
    base = ago(hours=3)
    tenant = [record("tenant", "acme", base + timedelta(seconds=90 - i), f"a{i}", pad=800) for i in range(90)]
    user = [record("user", "jane.doe#40example.com", base + timedelta(minutes=i), f"u{i}") for i in range(5)]
    dead = [record("unattributed", "999999999999", base, "d0")]
    invalid = [record("invalid", "unknown", base, "i0")]
    looped = [record("tenant", "acme", base, "loop0", log_group="/bedrock/tenants/acme")]
    too_old = [record("tenant", "acme", ago(days=20), "old0")]
    dt = base.date().isoformat()
    stack.put(key("tenant", "acme", dt, "a.gz"), tenant[:60])
    stack.put(key("tenant", "acme", dt, "b"), tenant[60:] + looped, compress=False)
    stack.put(key("user", "x", dt, "mixed.gz"), user + dead + invalid + too_old)
    app = stack.app()

    # When
    stats = drain(stack, app)

    # Then every message succeeded
    assert stats.failed == 0 and stats.deleted >= 3
    groups = exported(stack, tmp_path)
    # and each record is in its entity's group exactly once, chronologically
    assert groups["/bedrock/tenants/acme"] == [line(r) for r in reversed(tenant)]
    assert groups["/bedrock/users/jane.doe#40example.com"] == [line(r) for r in user]
    assert groups["/bedrock/unattributed"] == [line(r) for r in dead]
    assert groups["/bedrock/invalid"] == [line(r) for r in invalid]
    # and the loop-guarded and too-old records are reported, not silently lost (conservation)
    totals = app.mirror.totals
    assert totals.loop_guarded == 1 and totals.rejected == Counter({"too_old": 1})
    written = sum(len(v) for v in groups.values())
    assert written + totals.loop_guarded + sum(totals.rejected.values()) == totals.records == 99
    # and each group was created once, with tags and retention
    creates = Counter(p["logGroupName"] for p in stack.puts("CreateLogGroup"))
    assert set(creates.values()) == {1} and len(creates) == 4
    info = stack.logs.describe_log_groups(logGroupNamePrefix="/bedrock/users/")["logGroups"][0]
    assert info["retentionInDays"] == 30
    tags = stack.logs.list_tags_log_group(logGroupName=info["logGroupName"])["tags"]
    assert tags == {
        "entity_type": "user",
        "entity_id": "jane.doe:40example.com",
        "managed-by": "bedrock-spend",
    }
    # and the invalid record carries the object's arrival time within its dt day
    event = stack.logs.get_log_events(logGroupName="/bedrock/invalid", logStreamName=dt)["events"][0]
    assert abs(event["timestamp"] / 1000 - now().timestamp()) < 120
    assert_batches_within_limits(stack)


def test_given_an_s3_test_event_when_handled_then_it_succeeds_and_writes_nothing(stack: Stack) -> None:
    # Given the message S3 sends when a notification is configured
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(load_event("s3_test_event")))
    app = stack.app()
    # When
    stats = drain(stack, app)
    # Then
    assert stats.failed == 0 and app.mirror.totals.test_events >= 1
    assert stack.puts("PutLogEvents") == []


def test_given_a_large_object_when_mirrored_then_calls_are_minimal_and_within_limits(stack: Stack) -> None:
    # Given ~3.3 MB for one tenant in one object
    base = ago(hours=2)
    recs = [record("tenant", "big", base + timedelta(milliseconds=i), f"b{i}", pad=1500) for i in range(2000)]
    stack.put(key("tenant", "big", base.date().isoformat(), "big.gz"), recs)
    # When
    drain(stack, stack.app())
    # Then the calls are the fewest possible: ceil(total bytes / 1 MiB)
    puts = stack.puts("PutLogEvents")
    total = sum(len(line(r).encode()) + 26 for r in recs)
    assert len(puts) == -(-total // MAX_BATCH_BYTES)
    assert sum(len(p["logEvents"]) for p in puts) == 2000
    assert_batches_within_limits(stack)


def test_given_throttling_when_mirrored_then_retries_succeed_without_loss(
    stack: Stack, tmp_path: Path
) -> None:
    # Given CloudWatch Logs throttles the first calls of each kind
    stack.inject = {
        "CreateLogGroup": ["ThrottlingException"],
        "PutRetentionPolicy": ["ServiceUnavailableException"],
        "PutLogEvents": ["ThrottlingException", "ThrottlingException", "ServiceUnavailableException"],
    }
    recs = [record("ci", "build", ago(minutes=10 - i), f"c{i}") for i in range(5)]
    stack.put(key("ci", "build", recs[0]["dt"], "c.gz"), recs)
    app = stack.app()
    # When
    stats = drain(stack, app)
    # Then the message succeeded after retries, and every record is there once
    assert stats.failed == 0
    assert app.mirror.writer.retries == 5
    assert exported(stack, tmp_path)["/bedrock/ci/build"] == [line(r) for r in recs]


def test_given_persistent_throttling_when_mirrored_then_the_message_fails_and_a_redelivery_completes(
    stack: Stack, tmp_path: Path
) -> None:
    # Given PutLogEvents throttles longer than the writer's attempts
    stack.inject = {"PutLogEvents": ["ThrottlingException"] * 3}
    recs = [record("demo", "expo", ago(minutes=5), "e0")]
    stack.put(key("demo", "expo", recs[0]["dt"], "e.gz"), recs)
    app = stack.app(max_attempts=3)
    # When: first drain (the failed message is made visible again and retried in the same drain)
    stats = drain(stack, app)
    # Then it failed once, then succeeded — no loss, no duplicate
    assert stats.failed == 1 and stats.deleted == 1 + app.mirror.totals.test_events
    assert exported(stack, tmp_path)["/bedrock/demos/expo"] == [line(recs[0])]


def test_given_redelivered_messages_when_drained_again_then_nothing_is_written_twice(
    stack: Stack, tmp_path: Path
) -> None:
    # Given an object mirrored once
    recs = [record("tenant", "acme", ago(minutes=30 - i), f"r{i}") for i in range(20)]
    k = key("tenant", "acme", recs[0]["dt"], "r.gz")
    stack.put(k, recs)
    app = stack.app()
    drain(stack, app)
    puts_before = len(stack.puts("PutLogEvents"))
    # When SQS delivers the same notification again (and a fresh container handles it)
    etag = stack.s3.head_object(Bucket=BUCKET, Key=k)["ETag"].strip('"')
    for _ in range(2):
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=notification(BUCKET, k, etag))
    app2 = stack.app()
    stats = drain(stack, app2)
    # Then the object is recognised as done: no new PutLogEvents, no duplicates
    assert stats.failed == 0 and app2.mirror.totals.objects_skipped == 2
    assert len(stack.puts("PutLogEvents")) == puts_before
    assert exported(stack, tmp_path)["/bedrock/tenants/acme"] == [line(r) for r in recs]


def test_given_a_crash_half_way_when_retried_then_it_resumes_without_duplicates(
    stack: Stack, tmp_path: Path
) -> None:
    # Given an object needing 3 PutLogEvents calls, and a failure on the second call
    base = ago(hours=1)
    recs = [
        record("tenant", "half", base + timedelta(milliseconds=i), f"h{i}", pad=1200) for i in range(2000)
    ]
    stack.put(key("tenant", "half", base.date().isoformat(), "h.gz"), recs)
    stack.calls.clear()
    stack.inject = {"PutLogEvents": [None, "InvalidParameterException"]}
    app = stack.app()
    # When the message fails mid-object, then is redelivered (same drain)
    stats = drain(stack, app)
    # Then it failed once and succeeded on redelivery; the first batch was not written again
    assert stats.failed == 1 and stats.deleted == 1 + app.mirror.totals.test_events
    assert exported(stack, tmp_path)["/bedrock/tenants/half"] == [line(r) for r in recs]
    assert app.mirror.totals.skipped_events > 0


def test_given_a_poisoned_object_when_drained_then_only_its_message_fails_and_lands_in_the_dlq(
    stack: Stack, tmp_path: Path
) -> None:
    # Given a good object, a corrupt gzip object and a notification for a missing key
    good = [record("tenant", "good", ago(minutes=3), "g0")]
    dt = good[0]["dt"]
    stack.put(key("tenant", "good", dt, "good.gz"), good)
    stack.s3.put_object(Bucket=BUCKET, Key=key("tenant", "bad", dt, "bad.gz"), Body=ndjson(good)[:-12])
    stack.sqs.send_message(
        QueueUrl=stack.queue_url, MessageBody=notification(BUCKET, key("tenant", "gone", dt, "x.gz"))
    )
    app = stack.app()
    # When
    stats = drain(stack, app)
    # Then the good record is mirrored; the two poisoned messages failed maxReceiveCount times → DLQ
    assert exported(stack, tmp_path)["/bedrock/tenants/good"] == [line(good[0])]
    assert stats.failed == 4 and stats.deleted == 1 + app.mirror.totals.test_events
    dead = stack.sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert len(dead) == 2
    assert "/bedrock/tenants/bad" not in exported(stack, tmp_path)


def test_given_an_event_aws_rejects_when_mirrored_then_it_is_reported_as_rejected(stack: Stack) -> None:
    # Given an event 3 h in the future that a skewed writer clock (+2 h) believes acceptable
    future = [record("tenant", "skew", now() + timedelta(hours=3), "f0")]
    stack.put(key("tenant", "skew", future[0]["dt"], "f.gz"), future)
    app = stack.app(clock=lambda: (now() + timedelta(hours=2)).timestamp())
    # When
    stats = drain(stack, app)
    # Then CloudWatch Logs' rejectedLogEventsInfo is read back and the event reported, not lost silently
    assert stats.failed == 0
    assert app.mirror.totals.rejected == Counter({"too_new": 1})
    assert app.mirror.totals.written == 0


class LambdaContextStub(FakeContext):
    """What the Powertools decorators read from a Lambda context."""

    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mirror"


def test_given_the_deployed_entry_point_when_invoked_then_it_returns_a_partial_batch_response(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the handler built from the environment (no idempotency table: local mode)
    from transform import mirror as mirror_module

    mirror_module.mirror_app.cache_clear()
    rec = record("tenant", "entry", ago(minutes=1), "x0")
    stack.put(key("tenant", "entry", rec["dt"], "x.gz"), [rec])
    body = notification(BUCKET, key("tenant", "entry", rec["dt"], "x.gz"))
    event = {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "r1",
                "body": body,
                "attributes": {},
                "eventSource": "aws:sqs",
            },
            {
                "messageId": "m2",
                "receiptHandle": "r2",
                "body": "not json",
                "attributes": {},
                "eventSource": "aws:sqs",
            },
        ]
    }
    # When
    response = mirror_module.lambda_handler(event, LambdaContextStub())  # type: ignore[arg-type]
    mirror_module.mirror_app.cache_clear()
    # Then only the bad message is reported failed
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    events = stack.logs.get_log_events(logGroupName="/bedrock/tenants/entry", logStreamName=rec["dt"])[
        "events"
    ]
    assert [e["message"] for e in events] == [line(rec)]
