"""Where a backfill page goes: into the delivery stream, or straight to the spend prefix.

Both sinks first build what CloudWatch Logs would have sent the delivery stream: gzip
``DATA_MESSAGE`` envelopes ``{messageType, owner, logGroup, logStream, subscriptionFilters,
logEvents}`` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html),
each at most ``max_envelope_bytes`` of JSON before gzip so the record stays under Firehose's 1,000 KiB.

* :class:`StreamSink` puts them with ``PutRecordBatch`` (≤ 500 records / 4 MiB per call, failed
  records retried with backoff — the transform's own :class:`transform.reput.Reputter`). The real
  pipeline then transforms, partitions and delivers them exactly like live traffic.
* :class:`DirectSink` runs :class:`transform.process.Transformer` in-process on a Firehose-shaped
  event made of the same envelopes (re-puts fed back until none are left, as Firehose would) and
  writes one NDJSON.gz object per partition key and page under
  ``<prefix>entity_type=<t>/entity_id=<id>/dt=<d>/backfill-<page id>.gz``. The key depends only on
  the page and the partition, so running the same page again overwrites the same object.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Protocol

from infra.backfill.sources import Page, SourceEvent
from transform import codec
from transform.process import Transformer
from transform.record import PartitionKey
from transform.reput import Reputter

MAX_ENVELOPE_BYTES = 1_000_000
SUBSCRIPTION_FILTER = "bedrock-spend-backfill"
_MAX_ROUNDS = 8


@dataclass
class SinkResult:
    """What one page produced."""

    records: int = 0  # Firehose records put, or spend records written
    objects: int = 0  # S3 objects written (direct)
    failed: int = 0  # records the transform could not process (direct: written under errors/)
    bytes: int = 0


class Sink(Protocol):
    """What the runner needs from a sink."""

    mode: str

    def send(self, page: Page) -> SinkResult:
        """Deliver one page; raises on failure (the page is then retried on resume)."""
        ...


def build_envelopes(
    page: Page, *, filter_name: str = SUBSCRIPTION_FILTER, max_bytes: int = MAX_ENVELOPE_BYTES
) -> list[bytes]:
    """Gzip CloudWatch Logs subscription envelopes for every stream of ``page``."""
    out: list[bytes] = []
    for stream, events in page.streams():
        base = {
            "messageType": "DATA_MESSAGE",
            "owner": page.owner,
            "logGroup": page.log_group,
            "logStream": stream,
            "subscriptionFilters": [filter_name],
        }
        base_size = len(codec.json_dumps({**base, "logEvents": []}))
        batch: list[dict[str, Any]] = []
        size = base_size
        for event in sorted(events, key=_event_order):
            item = {"id": event.id, "timestamp": event.timestamp, "message": event.message}
            item_size = len(codec.json_dumps(item)) + 1
            if batch and size + item_size > max_bytes:
                out.append(codec.gzip_bytes(codec.json_dumps({**base, "logEvents": batch}), level=3))
                batch, size = [], base_size
            batch.append(item)
            size += item_size
        if batch:
            out.append(codec.gzip_bytes(codec.json_dumps({**base, "logEvents": batch}), level=3))
    return out


def _event_order(event: SourceEvent) -> tuple[int, str]:
    return event.timestamp, event.id


class StreamSink:
    """Puts envelopes into a Firehose delivery stream."""

    mode = "stream"

    def __init__(self, firehose: Any, stream_name: str, reputter: Reputter | None = None) -> None:
        self.stream_name = stream_name
        self.reputter = reputter or Reputter(firehose, max_attempts=8, base_delay=0.2)

    def send(self, page: Page) -> SinkResult:
        envelopes = build_envelopes(page)
        if envelopes:
            self.reputter.put(self.stream_name, envelopes)
        return SinkResult(records=len(envelopes), bytes=sum(map(len, envelopes)))


class DirectSink:
    """Transforms in-process and writes the spend objects itself."""

    mode = "direct"

    def __init__(
        self,
        s3: Any,
        bucket: str,
        transformer: Transformer,
        *,
        spend_prefix: str = "spend/",
        error_prefix: str = "errors/backfill/",
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.transformer = transformer
        self.spend_prefix = spend_prefix
        self.error_prefix = error_prefix

    def transform(self, page: Page) -> tuple[dict[PartitionKey, list[bytes]], list[str]]:
        """Spend-record lines grouped by partition key, and the raw data of failed records."""
        arrival = max((e.timestamp for _, evs in page.streams() for e in evs), default=0)
        records = [
            {"recordId": f"{page.page_id}-{i}", "approximateArrivalTimestamp": arrival, "data": _b64(env)}
            for i, env in enumerate(build_envelopes(page))
        ]
        groups: dict[PartitionKey, list[bytes]] = {}
        failed: list[str] = []
        for _ in range(_MAX_ROUNDS):
            if not records:
                return groups, failed
            outcome = self.transformer.process({"records": records})
            originals = {str(r["recordId"]): str(r["data"]) for r in records}
            for rec in outcome.records:
                if rec.result == "Ok" and rec.partition is not None:
                    groups.setdefault(rec.partition, []).append(rec.data)
                elif rec.result == "ProcessingFailed":
                    failed.append(originals[rec.record_id])
            records = [
                {"recordId": f"{page.page_id}-r{i}", "approximateArrivalTimestamp": arrival, "data": _b64(p)}
                for i, p in enumerate(outcome.reputs)
            ]
        raise RuntimeError(f"page {page.page_id}: re-puts did not settle after {_MAX_ROUNDS} rounds")

    def key(self, partition: PartitionKey, page: Page) -> str:
        """The deterministic object key of one partition of one page."""
        etype, eid, dt = partition
        return f"{self.spend_prefix}entity_type={etype}/entity_id={eid}/dt={dt}/backfill-{page.page_id}.gz"

    def send(self, page: Page) -> SinkResult:
        groups, failed = self.transform(page)
        result = SinkResult()
        for partition in sorted(groups):
            body = b"".join(groups[partition])
            data = codec.gzip_bytes(body, level=3)
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key(partition, page),
                Body=data,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
            )
            result.objects += 1
            result.records += body.count(b"\n")
            result.bytes += len(data)
        if failed:
            lines = [
                codec.json_dumps({"rawData": raw, "errorCode": "Lambda.ProcessingFailed"}) for raw in failed
            ]
            self.s3.put_object(
                Bucket=self.bucket,
                Key=f"{self.error_prefix}backfill-{page.page_id}.json",
                Body=b"\n".join(lines) + b"\n",
            )
            result.failed = len(failed)
            result.objects += 1
        return result


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
