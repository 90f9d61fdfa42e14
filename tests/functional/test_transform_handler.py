"""The transform Lambda end to end on moto: handler, re-puts through a real boto3 Firehose client,
partial failures and throttling of PutRecordBatch."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.firehose_api import FirehoseApiServer
from infra.local.firehose_engine import FirehoseEngine
from tests.builders import ACCOUNT, envelope, firehose_event, invocation
from transform import handler
from transform.envelope import REPUT_MAGIC, decode_record
from transform.reput import ReputError
from transform.runtime import TransformApp, transform_app
from transform.settings import Settings

pytestmark = pytest.mark.functional
STREAM = "bedrock-spend"


@dataclass
class Context:
    function_name: str = "bedrock-spend-transform"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bedrock-spend-transform"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="landing")
        firehose = boto3.client("firehose", region_name="us-east-1")
        firehose.create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
                "BucketARN": "arn:aws:s3:::landing",
                "Prefix": "raw/",
            },
        )
        transform_app.cache_clear()
        yield {"s3": s3, "firehose": firehose}
        transform_app.cache_clear()


def mixed_event() -> dict[str, Any]:
    principals = [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/api",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-globex/api",
        f"arn:aws:iam::{ACCOUNT}:user/dheeraj",
    ]
    messages = [
        json.dumps(invocation(requestId=f"r{i}", identity={"arn": principals[i % 3]})) for i in range(9)
    ]
    return firehose_event([gzip.compress(json.dumps(envelope(messages)).encode())])


def landed_reputs(s3: Any) -> list[bytes]:
    """The re-put records moto's Firehose wrote to S3 (it concatenates a batch into one object)."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="landing").get("Contents", [])]
    blobs = b"".join(s3.get_object(Bucket="landing", Key=k)["Body"].read() for k in keys)
    return [REPUT_MAGIC + part for part in blobs.split(REPUT_MAGIC) if part]


def test_handler_answers_and_reputs(aws: dict[str, Any]) -> None:
    # Given a record mixing three principals
    event = mixed_event()
    # When the Lambda handler runs (its own boto3 client, endpoint from the environment)
    response = handler.lambda_handler(event, Context())
    # Then one Ok record with one partition key, and two groups re-put into the stream
    (record,) = response["records"]
    assert record["result"] == "Ok" and set(record["metadata"]["partitionKeys"]) == {
        "entity_type",
        "entity_id",
        "dt",
    }
    landed = landed_reputs(aws["s3"])
    # moto's Firehose writes what it receives straight to S3: those are our re-put records
    decoded = [decode_record(blob) for blob in landed]
    assert sorted(d.reput.pk[1] for d in decoded if d.reput) == ["dheeraj", "globex"]
    assert sum(d.reput.count for d in decoded if d.reput) == 6


def fail_first_calls(client: Any, calls: int, *, throttle: bool = False) -> list[int]:
    """Make the first ``calls`` PutRecordBatch calls fail every other record (or throttle)."""
    seen: list[int] = []

    def before_call(params: dict[str, Any], **_: Any) -> Any:
        seen.append(len(params["body"].get("Records", [])) if isinstance(params.get("body"), dict) else 0)
        if len(seen) > calls:
            return None
        if throttle:
            error = {"Error": {"Code": "ServiceUnavailableException", "Message": "Slow down."}}
            return (type("R", (), {"status_code": 503})(), error)
        n = len(json.loads(params["body"])["Records"]) if isinstance(params["body"], (str, bytes)) else 1
        responses = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"}
            if i % 2 == 0
            else {"RecordId": f"x{i}"}
            for i in range(n)
        ]
        return (
            type("R", (), {"status_code": 200})(),
            {"FailedPutCount": (n + 1) // 2, "Encrypted": False, "RequestResponses": responses},
        )

    client.meta.events.register("before-call.firehose.PutRecordBatch", before_call)
    return seen


def test_partial_failures_are_retried_until_everything_is_in(aws: dict[str, Any]) -> None:
    # Given the project's Firehose wire-protocol server in front of a stream, failing every other
    # record of the first two PutRecordBatch calls (FailedPutCount > 0)
    description = aws["firehose"].describe_delivery_stream(DeliveryStreamName=STREAM)[
        "DeliveryStreamDescription"
    ]
    received: list[bytes] = []
    engine = FirehoseEngine(description, aws["s3"], invoke=lambda ev: {"records": []})
    engine.put_records = lambda records: received.extend(records) or [str(i) for i in range(len(records))]  # type: ignore[method-assign]
    failing_calls = {"left": 2}

    def failure(stream: str, index: int, data: bytes) -> bool:
        return failing_calls["left"] > 0 and index % 2 == 0

    with FirehoseApiServer([engine], port=0) as server:
        server.set_failure(failure)
        client = boto3.client("firehose", region_name="us-east-1", endpoint_url=server.endpoint_url)
        client.meta.events.register(
            "after-call.firehose.PutRecordBatch",
            lambda **_: failing_calls.update(left=failing_calls["left"] - 1),
        )
        app = TransformApp(Settings(reput_base_delay_seconds=0), firehose=client)
        # When the transform re-puts its two split-off groups
        app.handle(mixed_event())
    # Then each group arrived exactly once despite the partial failures
    decoded = [decode_record(b) for b in received]
    assert sorted(d.reput.pk[1] for d in decoded if d.reput) == ["dheeraj", "globex"]


def test_throttled_calls_are_retried(aws: dict[str, Any]) -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    fail_first_calls(client, 2, throttle=True)
    app = TransformApp(Settings(reput_base_delay_seconds=0), firehose=client)
    app.handle(mixed_event())
    assert len(landed_reputs(aws["s3"])) == 2


def test_persistent_failure_fails_the_invocation(aws: dict[str, Any]) -> None:
    # Given PutRecordBatch failing on every attempt
    client = boto3.client("firehose", region_name="us-east-1")
    fail_first_calls(client, 100)
    app = TransformApp(Settings(reput_base_delay_seconds=0, reput_max_attempts=3), firehose=client)
    # Then the invocation raises so Firehose retries the whole batch (no silent loss)
    with pytest.raises(ReputError, match="not re-put after 3 attempts"):
        app.handle(mixed_event())


def test_unknown_stream_is_not_retried_forever(aws: dict[str, Any]) -> None:
    event = mixed_event()
    event["deliveryStreamArn"] = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/missing"
    app = TransformApp(Settings(reput_base_delay_seconds=0), firehose=aws["firehose"])
    with pytest.raises(ReputError, match="ResourceNotFoundException"):
        app.handle(event)
