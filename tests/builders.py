"""Builders for test inputs: Bedrock log events from JSON files, CloudWatch Logs envelopes and
Firehose events."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent / "events"
ACCOUNT = "123456789012"
STREAM_ARN = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/bedrock-spend"
ARRIVAL_MS = 1_741_653_482_000  # 2025-03-11


def load_event(name: str) -> dict[str, Any]:
    """A JSON file from tests/events/ (without the .json suffix)."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def invocation(name: str = "bedrock-converse-stream", **changes: Any) -> dict[str, Any]:
    """A Bedrock invocation log event from a file, with top-level fields replaced."""
    event = copy.deepcopy(load_event(name))
    event.update(changes)
    return event


def envelope(
    messages: list[str],
    *,
    owner: str = ACCOUNT,
    log_group: str = "/aws/bedrock/modelinvocations",
    log_stream: str = "aws/bedrock/modelinvocations",
    first_id: int = 0,
) -> dict[str, Any]:
    """A CloudWatch Logs DATA_MESSAGE envelope holding ``messages``."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["bedrock-spend"],
        "logEvents": [
            {"id": str(first_id + i), "timestamp": ARRIVAL_MS, "message": m} for i, m in enumerate(messages)
        ],
    }


def gz_envelope(messages: list[str], **kwargs: Any) -> bytes:
    """The gzip-compressed envelope bytes, as a subscription delivers them."""
    return gzip.compress(json.dumps(envelope(messages, **kwargs)).encode())


def firehose_event(datas: list[bytes], arrival_ms: int = ARRIVAL_MS) -> dict[str, Any]:
    """A Firehose transformation event with one record per payload."""
    return {
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": STREAM_ARN,
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"{i:056d}",
                "approximateArrivalTimestamp": arrival_ms,
                "data": base64.b64encode(d).decode(),
            }
            for i, d in enumerate(datas)
        ],
    }


def decode_ok(response: dict[str, Any]) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
    """``(partitionKeys, records)`` of every Ok record of a transformation response."""
    out = []
    for rec in response["records"]:
        if rec["result"] == "Ok":
            lines = base64.b64decode(rec["data"]).decode().splitlines()
            out.append((rec["metadata"]["partitionKeys"], [json.loads(line) for line in lines]))
    return out
