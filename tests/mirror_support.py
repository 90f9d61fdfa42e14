"""Shared helpers of the mirror tests: spend records from the sample event, objects, notifications."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A JSON event file from ``tests/events``."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def iso(moment: datetime) -> str:
    """RFC 3339 with milliseconds and ``Z``, as the transform writes ``event_time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record(
    entity_type: str,
    entity_id: str,
    when: datetime,
    request_id: str,
    *,
    pad: int = 0,
    log_group: str = "/aws/bedrock/modelinvocations",
) -> dict[str, Any]:
    """A spend record of the sample's shape; ``pad`` grows it with request metadata."""
    rec = copy.deepcopy(load_event("spend_record"))
    rec.update(
        entity_type=entity_type,
        entity_id=entity_id,
        entity_name=entity_id,
        event_time=iso(when),
        dt=when.astimezone(UTC).date().isoformat(),
        request_id=request_id,
        log_group=log_group,
        request_metadata={"pad": "x" * pad} if pad else None,
    )
    if entity_type == "invalid":
        rec.update(event_time=None, request_id=None, pricing_status="invalid", invalid_reason="not JSON")
        rec["raw_message"] = f"garbage {request_id}"
        rec["log_event_id"] = request_id
    return rec


def ndjson(records: list[dict[str, Any]], compress: bool = True) -> bytes:
    """Records as newline-delimited JSON, gzip-compressed like Firehose's GZIP output by default."""
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    return gzip.compress(data) if compress else data


def line(rec: dict[str, Any]) -> str:
    """The exact line the mirror must write for a record."""
    return json.dumps(rec, separators=(",", ":"))


def notification(bucket: str, key: str, etag: str = "", version_id: str = "") -> str:
    """An S3 ObjectCreated notification body (from ``tests/events/s3_object_created.json``)."""
    event = load_event("s3_object_created")
    obj = event["Records"][0]["s3"]
    obj["bucket"]["name"] = bucket
    obj["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj["object"].update(key=key.replace(" ", "+"), eTag=etag, versionId=version_id)
    return json.dumps(event)


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


def ago(**kwargs: float) -> datetime:
    """``now() - timedelta(**kwargs)``."""
    return now() - timedelta(**kwargs)
