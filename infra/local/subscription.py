"""Emulates a CloudWatch Logs subscription filter whose destination is a Firehose stream.

moto's own Logs -> Firehose subscription writes the gzipped envelope straight to S3, bypassing any
Firehose processing, so this poller reads the group's events and builds the records CloudWatch Logs
would send, then hands them to a sink (``engine.put_records`` or a PutRecordBatch wrapper).

Record format (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html ,
"Example: Subscription filters with Amazon Data Firehose"): each record is the gzip of the JSON
envelope ``{messageType: "DATA_MESSAGE", owner: <account id>, logGroup, logStream,
subscriptionFilters: [<filter name>], logEvents: [{id, timestamp, message}]}``. Events of one log
stream are batched into one envelope, in order, bounded by ``max_events_per_record`` and
``max_record_bytes`` (uncompressed JSON, default 1,000,000 so that the gzip stays under Firehose's
1,000 KiB record limit). ``control_message()`` is the ``CONTROL_MESSAGE`` CloudWatch Logs sends when
a subscription is created (owner ``CloudwatchLogs``, empty group/stream).

Filter patterns: ``""`` matches everything. Any other pattern is passed unchanged as
``filterPattern`` to FilterLogEvents, so its semantics are those of the Logs service answering
(real CloudWatch Logs: the full filter-pattern syntax; moto: its own subset - plain terms, and some
JSON patterns). Nothing is evaluated locally.

Position: the poller remembers the newest event timestamp it has seen and the events it has already
sent; each ``poll()`` asks FilterLogEvents (paginated) from that timestamp minus ``lookback_ms``
(default one hour, to catch events put with slightly older timestamps) and sends only new events.
Events whose timestamp is older than that window at the time they are put are not sent (real
subscriptions follow ingestion, not event time).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from transform.reput import batches

Sink = Callable[[list[bytes]], object]

CONTROL_MESSAGE_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Firehose."


class SubscriptionFilterEmulator:
    """Polls a log group and feeds subscription records to ``sink``; call ``poll()`` repeatedly."""

    def __init__(
        self,
        logs_client: Any,
        log_group_name: str,
        filter_name: str,
        filter_pattern: str,
        sink: Sink,
        *,
        owner: str | None = None,
        max_events_per_record: int = 10_000,
        max_record_bytes: int = 1_000_000,
        lookback_ms: int = 3_600_000,
        start_time_ms: int | None = None,
    ) -> None:
        self._logs = logs_client
        self.log_group_name = log_group_name
        self.filter_name = filter_name
        self.filter_pattern = filter_pattern
        self._sink = sink
        self._owner = owner
        self.max_events_per_record = max_events_per_record
        self.max_record_bytes = max_record_bytes
        self.lookback_ms = lookback_ms
        self._watermark = start_time_ms
        self._sent: dict[tuple[str, str, int], None] = {}
        self.events_sent = 0
        self.records_sent = 0

    @property
    def owner(self) -> str:
        """The account id of the log group (from its ARN unless given)."""
        if self._owner is None:
            groups = self._logs.describe_log_groups(logGroupNamePrefix=self.log_group_name)["logGroups"]
            arn = next(g["arn"] for g in groups if g["logGroupName"] == self.log_group_name)
            self._owner = str(arn.split(":")[4])
        return self._owner

    # ---------------------------------------------------------------- records
    @staticmethod
    def control_message() -> bytes:
        """The gzip ``CONTROL_MESSAGE`` record CloudWatch Logs sends to check the destination."""
        envelope = {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": 0, "message": CONTROL_MESSAGE_TEXT}],
        }
        return gzip.compress(json.dumps(envelope, separators=(",", ":")).encode())

    def send_control_message(self) -> None:
        """Send :meth:`control_message` to the sink."""
        self._sink([self.control_message()])
        self.records_sent += 1

    def build_records(self, log_stream: str, events: Sequence[dict[str, Any]]) -> list[bytes]:
        """Gzip DATA_MESSAGE envelopes for ``events`` (``{id, timestamp, message}``) of one stream."""
        base = {
            "messageType": "DATA_MESSAGE",
            "owner": self.owner,
            "logGroup": self.log_group_name,
            "logStream": log_stream,
            "subscriptionFilters": [self.filter_name],
            "logEvents": [],
        }
        base_size = len(json.dumps(base, separators=(",", ":")).encode())
        records: list[bytes] = []
        batch: list[dict[str, Any]] = []
        size = base_size
        for event in events:
            item = {"id": str(event["id"]), "timestamp": int(event["timestamp"]), "message": event["message"]}
            item_size = len(json.dumps(item, separators=(",", ":")).encode()) + 1
            if batch and (
                len(batch) >= self.max_events_per_record or size + item_size > self.max_record_bytes
            ):
                records.append(self._envelope(base, batch))
                batch, size = [], base_size
            batch.append(item)
            size += item_size
        if batch:
            records.append(self._envelope(base, batch))
        return records

    @staticmethod
    def _envelope(base: dict[str, Any], events: list[dict[str, Any]]) -> bytes:
        return gzip.compress(json.dumps({**base, "logEvents": events}, separators=(",", ":")).encode())

    # ------------------------------------------------------------------ polling
    def _read(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"logGroupName": self.log_group_name}
        if self.filter_pattern:
            kwargs["filterPattern"] = self.filter_pattern
        if self._watermark is not None:
            kwargs["startTime"] = max(0, self._watermark - self.lookback_ms)
        while True:
            page = self._logs.filter_log_events(**kwargs)
            yield from page.get("events", [])
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                return
            kwargs["nextToken"] = token

    def poll(self) -> int:
        """Read new events, send their records to the sink; return the number of events sent."""
        by_stream: dict[str, list[dict[str, Any]]] = {}
        newest = self._watermark
        for event in self._read():
            key = (event["logStreamName"], str(event["eventId"]), int(event["timestamp"]))
            if key in self._sent:
                continue
            self._sent[key] = None
            by_stream.setdefault(event["logStreamName"], []).append(
                {"id": event["eventId"], "timestamp": event["timestamp"], "message": event["message"]}
            )
            newest = key[2] if newest is None else max(newest, key[2])
        self._watermark = newest
        if newest is not None:
            horizon = newest - self.lookback_ms
            self._sent = {k: None for k in self._sent if k[2] >= horizon}
        records: list[bytes] = []
        count = 0
        for stream, events in by_stream.items():
            events.sort(key=lambda e: int(e["timestamp"]))
            records.extend(self.build_records(stream, events))
            count += len(events)
        for chunk in batches(records):  # delivered like PutRecordBatch: 500 records, 4 MiB
            self._sink(chunk)
        self.events_sent += count
        self.records_sent += len(records)
        return count


def decode_record(data: bytes) -> dict[str, Any]:
    """Inverse of the record format: gunzip and parse one subscription record (for tests and tools)."""
    envelope: dict[str, Any] = json.loads(gzip.decompress(data))
    return envelope
