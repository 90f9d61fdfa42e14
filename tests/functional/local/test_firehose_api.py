"""Functional: a real boto3 firehose client against the local Firehose HTTP API, engine on moto's S3.

Given a delivery stream created on moto (in-process ``mock_aws``) and an engine built from moto's own
DescribeDeliveryStream answer, when records are put through the real Firehose wire protocol, then they
are delivered as Firehose would, and PutRecordBatch's limits and partial failures behave as AWS
documents them.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local.firehose_api import FirehoseApiServer
from infra.local.firehose_engine import FirehoseEngine
from tests.unit.local.support import destination, fake_transform, record

pytestmark = pytest.mark.functional

REGION = "us-east-1"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def _create_stream(compression: str = "GZIP") -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="spend-bucket")
    firehose: Any = boto3.client("firehose", region_name=REGION)
    dest = destination(compression=compression)
    dest.pop("RoleARN")
    firehose.create_delivery_stream(
        DeliveryStreamName="spend",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose", **dest},
    )
    description: dict[str, Any] = firehose.describe_delivery_stream(DeliveryStreamName="spend")[
        "DeliveryStreamDescription"
    ]
    return description


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        yield


@pytest.fixture
def stack(aws: None) -> Iterator[tuple[FirehoseEngine, FirehoseApiServer, Any, Any]]:
    description = _create_stream()
    s3 = boto3.client("s3", region_name=REGION)
    engine = FirehoseEngine(description, s3, fake_transform)
    with FirehoseApiServer([engine], port=0) as server:
        client = boto3.client(
            "firehose", region_name=REGION, endpoint_url=server.endpoint_url, config=NO_RETRY
        )
        yield engine, server, client, s3


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket="spend-bucket", Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket="spend-bucket", Key=o["Key"])["Body"].read() for o in listing}


def test_moto_stores_and_returns_the_processing_configuration(aws: None) -> None:
    description = _create_stream()
    dest = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["Prefix"].startswith("spend/entity=!{partitionKeyFromLambda:entity}")
    assert dest["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}")
    assert dest["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
    assert dest["CompressionFormat"] == "GZIP"
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    params = {
        p["ParameterName"]: p["ParameterValue"]
        for p in dest["ProcessingConfiguration"]["Processors"][0]["Parameters"]
    }
    assert params["NumberOfRetries"] == "2" and params["BufferSizeInMBs"] == "3"


def test_put_record_batch_through_the_wire_delivers_gzip_objects_on_s3(stack: Any) -> None:
    engine, _, client, s3 = stack
    response = client.put_record_batch(
        DeliveryStreamName="spend",
        Records=[{"Data": record("acme", value="1")}, {"Data": record("globex", value="2")}],
    )
    assert response["FailedPutCount"] == 0 and all("RecordId" in r for r in response["RequestResponses"])
    single = client.put_record(DeliveryStreamName="spend", Record={"Data": record("acme", value="3")})
    assert single["RecordId"]
    engine.flush()
    acme = _objects(s3, "spend/entity=acme/")
    (key,) = acme
    assert key.endswith(".gz") and gzip.decompress(acme[key]) == b"1\n3\n"
    assert len(_objects(s3, "spend/entity=globex/")) == 1


def test_batch_limits_answer_the_documented_errors(stack: Any) -> None:
    _, _, client, _ = stack
    with pytest.raises(ClientError) as too_many:
        client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x"}] * 501)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as too_big:
        client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x" * 1_024_001}])
    assert too_big.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as call_too_big:
        client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert call_too_big.value.response["Error"]["Code"] == "InvalidArgumentException"
    with pytest.raises(ClientError) as unknown:
        client.put_record_batch(DeliveryStreamName="nope", Records=[{"Data": b"x"}])
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # exactly at the limits is fine
    ok = client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x" * 1_024_000}])
    assert ok["FailedPutCount"] == 0


def test_injected_partial_failures_are_reported_in_failed_put_count(stack: Any) -> None:
    engine, server, client, _ = stack
    server.set_failure(lambda stream, index, data: index % 2 == 1)
    response = client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": record()}] * 6)
    assert response["FailedPutCount"] == 3
    entries = response["RequestResponses"]
    assert [e.get("ErrorCode") for e in entries[1::2]] == ["ServiceUnavailableException"] * 3
    assert all("RecordId" in e for e in entries[0::2])
    assert engine.stats.records_in == 3
    server.set_failure(1.0)
    assert (
        client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x"}])["FailedPutCount"] == 1
    )


def test_throttled_calls_and_unknown_operations(stack: Any) -> None:
    engine, server, client, _ = stack
    server.set_throttle(True)
    with pytest.raises(ClientError) as throttled:
        client.put_record_batch(DeliveryStreamName="spend", Records=[{"Data": b"x"}])
    assert throttled.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert engine.stats.records_in == 0
    server.set_throttle(None)
    with pytest.raises(ClientError) as unknown:
        client.list_delivery_streams()
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"


def test_a_transform_reputs_through_its_own_boto3_client(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transform's own client, configured only by AWS_ENDPOINT_URL_FIREHOSE, re-puts split events."""
    description = _create_stream(compression="UNCOMPRESSED")
    s3 = boto3.client("s3", region_name=REGION)

    def splitting_transform(event: dict[str, Any]) -> dict[str, Any]:
        firehose = boto3.client("firehose", region_name=REGION, config=NO_RETRY)
        out = []
        for rec in event["records"]:
            spec = json.loads(base64.b64decode(rec["data"]))
            if "split" in spec:
                firehose.put_record_batch(
                    DeliveryStreamName="spend", Records=[{"Data": record(e, value=e)} for e in spec["split"]]
                )
                out.append({"recordId": rec["recordId"], "result": "Dropped"})
            else:
                out.extend(fake_transform({"records": [rec]})["records"])
        return {"records": out}

    engine = FirehoseEngine(description, s3, splitting_transform)
    with FirehoseApiServer([engine], port=0) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_FIREHOSE", server.endpoint_url)
        engine.put_records([json.dumps({"split": ["acme", "globex"]}).encode()])
        engine.flush()
    assert engine.stats.dropped == 1 and engine.stats.ok == 2
    assert list(_objects(s3, "spend/entity=globex/").values()) == [b"globex\n"]
