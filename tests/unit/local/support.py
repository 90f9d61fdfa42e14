"""Helpers for the local Firehose engine tests: stream description, fake S3, clock and transform."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fake-transform"
STREAM_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/spend"
PREFIX = "spend/entity=!{partitionKeyFromLambda:entity}/dt=!{timestamp:yyyy-MM-dd}/"
ERROR_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"


def destination(
    *,
    prefix: str = PREFIX,
    error_prefix: str = ERROR_PREFIX,
    compression: str = "UNCOMPRESSED",
    size_mb: int = 64,
    interval_s: int = 60,
    retries: str = "2",
    proc_size_mb: str = "3",
    proc_interval_s: str = "60",
    dynamic: bool = True,
    processing: bool = True,
) -> dict[str, Any]:
    """An ExtendedS3DestinationDescription as DescribeDeliveryStream returns it (string parameter values)."""
    return {
        "RoleARN": "arn:aws:iam::123456789012:role/firehose",
        "BucketARN": "arn:aws:s3:::spend-bucket",
        "Prefix": prefix,
        "ErrorOutputPrefix": error_prefix,
        "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval_s},
        "CompressionFormat": compression,
        "ProcessingConfiguration": {
            "Enabled": processing,
            "Processors": [
                {
                    "Type": "Lambda",
                    "Parameters": [
                        {"ParameterName": "LambdaArn", "ParameterValue": LAMBDA_ARN},
                        {"ParameterName": "NumberOfRetries", "ParameterValue": retries},
                        {"ParameterName": "BufferSizeInMBs", "ParameterValue": proc_size_mb},
                        {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": proc_interval_s},
                    ],
                }
            ],
        },
        "DynamicPartitioningConfiguration": {"Enabled": dynamic, "RetryOptions": {"DurationInSeconds": 300}},
    }


def description(**kwargs: Any) -> dict[str, Any]:
    """A full DeliveryStreamDescription in AWS's shape (destination under ``Destinations``)."""
    return {
        "DeliveryStreamName": "spend",
        "DeliveryStreamARN": STREAM_ARN,
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamType": "DirectPut",
        "VersionId": "1",
        "Destinations": [
            {
                "DestinationId": "destinationId-000000000001",
                "ExtendedS3DestinationDescription": destination(**kwargs),
            }
        ],
        "HasMoreDestinations": False,
    }


class FakeS3:
    """The one S3 call the engine makes, in memory."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        assert Bucket == "spend-bucket"
        self.objects[Key] = Body
        return {}

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def body(self, key: str) -> bytes:
        raw = self.objects[key]
        return gzip.decompress(raw) if key.endswith(".gz") else raw


class FakeClock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = 1_709_622_489.0) -> None:  # 2024-03-05T07:08:09Z
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def record(entity: str | None = "acme", result: str = "Ok", value: str = "v") -> bytes:
    """Input for :func:`fake_transform`: what it should answer for this record."""
    return json.dumps({"entity": entity, "result": result, "value": value}).encode()


def fake_transform(event: dict[str, Any]) -> dict[str, Any]:
    """A tiny transform: emits ``value + "\\n"`` with partition key ``entity`` and the requested result."""
    out = []
    for rec in event["records"]:
        spec = json.loads(base64.b64decode(rec["data"]))
        item: dict[str, Any] = {"recordId": rec["recordId"], "result": spec["result"]}
        item["data"] = base64.b64encode((spec["value"] + "\n").encode()).decode()
        if spec["entity"] is not None:
            item["metadata"] = {"partitionKeys": {"entity": spec["entity"]}}
        out.append(item)
    return {"records": out}


def error_rows(s3: FakeS3, error_type: str) -> list[dict[str, Any]]:
    """All JSON rows written under ``errors/<error_type>/``."""
    rows: list[dict[str, Any]] = []
    for key in s3.keys(f"errors/{error_type}/"):
        rows.extend(json.loads(line) for line in s3.body(key).decode().splitlines())
    return rows
