"""What landed, in numbers a FinOps person reads: spend by entity type, top entities, models, the dead
letter, invalid and unpriced records, conservation (in = landed + dead letter + invalid), the files
and the mirrored log groups. Read back from the emulator, never from the pipeline's own counters."""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from transform.envelope import decode_record


@dataclass
class Summary:
    """Aggregates over the landed spend records (de-duplicated by request id)."""

    events_in: int = 0
    records: int = 0
    duplicates: int = 0
    objects: int = 0
    partitions: set[str] = field(default_factory=set)
    by_type: Counter[str] = field(default_factory=Counter)
    cost_by_type: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_entity: Counter[tuple[str, str]] = field(default_factory=Counter)
    cost_by_entity: defaultdict[tuple[str, str], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    by_model: Counter[tuple[str, str]] = field(default_factory=Counter)
    cost_by_model: defaultdict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    pricing_status: Counter[str] = field(default_factory=Counter)
    months: set[str] = field(default_factory=set)
    error_objects: int = 0
    error_records: int = 0
    error_events: int = 0
    log_groups: dict[str, int] = field(default_factory=dict)

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost_by_type.values(), Decimal(0))

    def count(self, entity_type: str) -> int:
        return self.by_type.get(entity_type, 0)

    @property
    def conserved(self) -> bool:
        """Every event written came out exactly once (landed or kept in the error prefix)."""
        return self.records + self.error_events == self.events_in and self.duplicates == 0

    @property
    def mirrored(self) -> int:
        return sum(self.log_groups.values())


def _objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body


def _events_in_failed(raw: bytes) -> int:
    try:
        decoded = decode_record(raw)
    except ValueError:
        return 0
    if decoded.kind == "reput" and decoded.reput is not None:
        return decoded.reput.count
    return len(decoded.events) if decoded.kind == "events" else 0


def summarize(
    s3: Any,
    bucket: str,
    spend_prefix: str,
    error_prefix: str,
    events_in: int,
    log_groups: dict[str, int] | None = None,
) -> Summary:
    """Read every landed object and aggregate (see module doc)."""
    summary = Summary(events_in=events_in, log_groups=dict(log_groups or {}))
    seen: set[str] = set()
    for key in _objects(s3, bucket, spend_prefix):
        summary.objects += 1
        summary.partitions.add(key.rsplit("/", 1)[0])
        for line in _read(s3, bucket, key).splitlines():
            rec = json.loads(line, parse_float=Decimal)
            ident = rec["request_id"] or f"{rec['log_group']}/{rec['log_stream']}/{rec['log_event_id']}"
            if ident in seen:
                summary.duplicates += 1
                continue
            seen.add(ident)
            summary.records += 1
            etype = rec["entity_type"]
            cost = Decimal(rec["estimated_cost_usd"] or 0)
            summary.by_type[etype] += 1
            summary.cost_by_type[etype] += cost
            entity = (etype, rec["entity_name"] or rec["entity_id"])
            summary.by_entity[entity] += 1
            summary.cost_by_entity[entity] += cost
            summary.pricing_status[rec["pricing_status"]] += 1
            summary.months.add(rec["dt"][:7])
            if rec["model_id"]:
                model = (rec["model"] or f"? {rec['model_id']}", rec["inference_scope"] or "")
                summary.by_model[model] += 1
                summary.cost_by_model[model] += cost
    top = error_prefix.split("!{", 1)[0]
    for key in _objects(s3, bucket, top):
        summary.error_objects += 1
        for line in _read(s3, bucket, key).splitlines():
            row = json.loads(line)
            summary.error_records += 1
            summary.error_events += _events_in_failed(base64.b64decode(row.get("rawData", "")))
    return summary
