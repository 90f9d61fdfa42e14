"""Local stand-in for Lambda's SQS event source mapping, and an exporter of the mirrored log groups.

:func:`drain_queue` does what the event source mapping does for the mirror function
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): receive up to 10 messages, invoke the
handler with the real SQS event shape, delete the messages that succeeded and leave the ones named in
``batchItemFailures`` (``ReportBatchItemFailures``,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) — or the whole batch when
the handler raises — for redelivery. Locally a failed message is made visible again at once (instead of
after the visibility timeout), so the queue's redrive policy moves it to the DLQ after
``maxReceiveCount`` receives within one drain.

:func:`export_log_groups` writes every mirrored group as ``out_dir/logs/<group without leading />.jsonl``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class DrainStats:
    """What one :func:`drain_queue` did."""

    invocations: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    handler_errors: int = 0


def _queue_arn(sqs_client: Any, queue_url: str) -> str:
    attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda event for SQS messages as ``ReceiveMessage`` returned them."""
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "us-east-1"
    records = []
    for message in messages:
        body = message["Body"]
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": message.get("MessageAttributes") or {},
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def drain_queue(
    sqs_client: Any,
    queue_url: str,
    handler: Handler,
    context: Any = None,
    max_messages: int | None = None,
    *,
    batch_size: int = 10,
    max_invocations: int = 1000,
) -> DrainStats:
    """Feed the queue's messages to ``handler`` until the queue is empty (or ``max_messages`` received).

    ``max_invocations`` bounds the loop when a failing message has no DLQ to go to.
    """
    stats = DrainStats()
    arn = _queue_arn(sqs_client, queue_url)
    while stats.invocations < max_invocations:
        wanted = batch_size if max_messages is None else min(batch_size, max_messages - stats.received)
        if wanted <= 0:
            break
        response = sqs_client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages") or []
        if not messages:
            break
        stats.received += len(messages)
        stats.invocations += 1
        try:
            result = handler(sqs_event(messages, arn), context) or {}
            failed_ids = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        except Exception:  # the whole invocation failed: Lambda retries every message of the batch
            stats.handler_errors += 1
            failed_ids = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        if done:
            sqs_client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in failed:
            sqs_client.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        stats.deleted += len(done)
        stats.failed += len(failed)
    return stats


def _pages(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        response = call(**kwargs, **({"nextToken": token} if token else {}))
        yield from response.get(key) or []
        token = response.get("nextToken")
        if not token:
            return


def group_events(logs_client: Any, group: str) -> list[dict[str, Any]]:
    """Every event of ``group`` over all its streams, in chronological order (stable per stream)."""
    events: list[dict[str, Any]] = []
    for stream in _pages(logs_client.describe_log_streams, "logStreams", logGroupName=group):
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": group,
                "logStreamName": stream["logStreamName"],
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            response = logs_client.get_log_events(**kwargs)
            events.extend(response.get("events") or [])
            next_token = response.get("nextForwardToken")
            if not response.get("events") or not next_token or next_token == token:
                break
            token = next_token
    events.sort(key=lambda e: int(e["timestamp"]))
    return events


def export_log_groups(logs_client: Any, out_dir: Path | str, prefix: str = "/bedrock/") -> dict[str, int]:
    """Write each group under ``prefix`` to ``out_dir/logs/<name>.jsonl``; return events per group."""
    counts: dict[str, int] = {}
    root = Path(out_dir) / "logs"
    for group in _pages(logs_client.describe_log_groups, "logGroups", logGroupNamePrefix=prefix):
        name = str(group["logGroupName"])
        events = group_events(logs_client, name)
        path = root / (name.lstrip("/") + ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for event in events:
                out.write(str(event["message"]).rstrip("\n") + "\n")
        counts[name] = len(events)
    return counts
