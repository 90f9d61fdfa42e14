"""Functional: provisioning the local stack from infra/template.yaml on moto (in-process mock_aws)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from infra.local.provision import LocalResources, provision

pytestmark = pytest.mark.functional

REGION = "eu-west-1"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield {
            name: boto3.client(name, region_name=REGION)
            for name in ("s3", "logs", "firehose", "sqs", "dynamodb")
        }


def _provision(clients: dict[str, Any], **parameters: str) -> LocalResources:
    return provision(
        s3=clients["s3"],
        logs=clients["logs"],
        firehose=clients["firehose"],
        sqs=clients["sqs"],
        dynamodb=clients["dynamodb"],
        account_id=DEFAULT_ACCOUNT_ID,
        region=REGION,
        parameters=parameters,
    )


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_provision_creates_everything_with_the_template_values(clients: dict[str, Any]) -> None:
    # Given the template, When provisioning
    res = _provision(clients)

    # Then the delivery stream carries the template's destination configuration
    stream = clients["firehose"].describe_delivery_stream(DeliveryStreamName=res.delivery_stream_name)
    description = stream["DeliveryStreamDescription"]
    assert description["DeliveryStreamARN"] == res.delivery_stream_arn
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{res.bucket_name}"
    assert destination["Prefix"] == res.delivery_stream_config["Prefix"]
    assert "!{partitionKeyFromLambda:entity_type}" in destination["Prefix"]
    assert destination["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
    assert destination["CompressionFormat"] == "GZIP"
    assert res.processor_parameters["LambdaArn"] == res.transform.arn
    assert res.processor_parameters["BufferSizeInMBs"] == "1"
    assert res.delivery_stream_config["DynamicPartitioningConfiguration"]["Enabled"] is True

    # And the log group + stream Bedrock writes to exist
    groups = clients["logs"].describe_log_groups(logGroupNamePrefix=res.bedrock_log_group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [res.bedrock_log_group]
    streams = clients["logs"].describe_log_streams(logGroupName=res.bedrock_log_group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["aws/bedrock/modelinvocations"]
    # but no subscription filter: the project's emulator owns delivery
    assert (
        clients["logs"].describe_subscription_filters(logGroupName=res.bedrock_log_group)[
            "subscriptionFilters"
        ]
        == []
    )
    # every event reaches the transform: malformed ones are kept as invalid records, not filtered out
    assert res.subscription_filter_pattern == ""

    # And the queue redrives to the DLQ after the template's receive count
    attributes = clients["sqs"].get_queue_attributes(QueueUrl=res.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == res.dlq_arn
    assert int(redrive["maxReceiveCount"]) == res.max_receive_count == 5
    assert clients["sqs"].get_queue_url(QueueName=res.dlq_name)["QueueUrl"] == res.dlq_url

    # And the idempotency table has PK id and TTL on expiration
    table = clients["dynamodb"].describe_table(TableName=res.idempotency_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    ttl = clients["dynamodb"].describe_time_to_live(TableName=res.idempotency_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"

    # And the functions' handlers and environment come from the template
    assert res.transform.handler == "transform.handler.lambda_handler"
    assert res.mirror.handler == "transform.mirror.lambda_handler"
    assert res.mirror.environment["BEDROCK_SPEND_IDEMPOTENCY_TABLE"] == res.idempotency_table
    assert res.mirror.environment["BEDROCK_SPEND_LOG_RETENTION_DAYS"] == "30"
    assert res.transform.environment["POWERTOOLS_METRICS_NAMESPACE"] == "BedrockSpend"
    assert res.transform.architectures == ("arm64",)


def test_parameters_override_defaults(clients: dict[str, Any]) -> None:
    res = _provision(
        clients, NamePrefix="acme-spend", MirrorMaxReceiveCount="2", AllowedAccounts="111111111111"
    )
    assert res.delivery_stream_name == "acme-spend-stream"
    assert res.bucket_name == f"acme-spend-data-{DEFAULT_ACCOUNT_ID}-{REGION}"
    assert res.max_receive_count == 2
    assert res.transform.environment["BEDROCK_SPEND_ALLOWED_ACCOUNTS"] == "111111111111"
    clients["s3"].head_bucket(Bucket=res.bucket_name)


def test_provisioning_twice_is_fine(clients: dict[str, Any]) -> None:
    first = _provision(clients)
    second = _provision(clients)
    assert first == second
    names = clients["firehose"].list_delivery_streams()["DeliveryStreamNames"]
    assert names == [first.delivery_stream_name]
    assert len(clients["sqs"].list_queues()["QueueUrls"]) == 2


def test_s3_object_created_under_spend_reaches_the_mirror_queue(clients: dict[str, Any]) -> None:
    res = _provision(clients)
    _drain(clients["sqs"], res.queue_url)  # S3 sends an s3:TestEvent when notifications are set

    # When Firehose delivers an object under spend/ (and something lands under errors/)
    key = f"{res.spend_prefix}entity_type=tenant/entity_id=acme/dt=2025-01-02/part-1.gz"
    clients["s3"].put_object(Bucket=res.bucket_name, Key=key, Body=b"{}")
    clients["s3"].put_object(Bucket=res.bucket_name, Key="errors/processing-failed/x", Body=b"{}")

    # Then exactly the spend object is announced on the mirror queue
    bodies = _drain(clients["sqs"], res.queue_url)
    records = [record for body in bodies for record in body.get("Records", [])]
    # (keys in S3 events are URL-encoded; moto also encodes '/', real S3 encodes '=' at least)
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in records] == [key]
    assert records[0]["s3"]["bucket"]["name"] == res.bucket_name
    assert records[0]["eventName"].startswith("ObjectCreated:")
