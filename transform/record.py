"""Spend record v1: one per invocation (or per unparseable event), its partition key and encoding.

The field list and types are fixed by ``schemas/spend_record.avsc`` and
``schemas/spend_record.schema.json`` (schema version ``"1"``); money is an exact decimal JSON number
of USD (see :func:`transform.pricing.format_usd`). Prompt and response bodies are never included.
``invalid`` records carry the raw message (bounded), the reason and the record's arrival date as
``dt``. The partition key is ``(entity_type, entity_id, dt)``, as Firehose dynamic partitioning
expects in ``metadata.partitionKeys``
(https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transform import codec
from transform.invocation import InvocationLog
from transform.pricing import Costs, PriceQuote, format_usd
from transform.routing import Route

SCHEMA_VERSION = "1"
PARTITION_KEYS = ("entity_type", "entity_id", "dt")
#: Raw messages of invalid events are kept up to this many characters (the full event stays in the
#: source log group, named by log_group/log_stream/log_event_id).
MAX_RAW_MESSAGE = 100_000

FIELDS = (
    "schema_version",
    "request_id",
    "event_time",
    "dt",
    "account_id",
    "region",
    "inference_region",
    "operation",
    "model_id",
    "model",
    "inference_scope",
    "principal_arn",
    "entity_type",
    "entity_id",
    "entity_name",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "input_cost_usd",
    "output_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "estimated_cost_usd",
    "pricing_status",
    "price_version",
    "error_code",
    "request_metadata",
    "log_group",
    "log_stream",
    "log_event_id",
    "invalid_reason",
    "raw_message",
)

PartitionKey = tuple[str, str, str]


@dataclass(frozen=True)
class Source:
    """Where a log event came from."""

    log_group: str | None
    log_stream: str | None
    log_event_id: str | None


def _usd(pico: int | None) -> codec.Raw | None:
    return None if pico is None else codec.Raw(format_usd(pico))


def spend_record(
    log: InvocationLog,
    event_time: str,
    dt: str,
    route: Route,
    quote: PriceQuote,
    costs: Costs,
    source: Source,
) -> dict[str, Any]:
    """The spend record of one valid invocation."""
    inp, out = log.input, log.output
    return {
        "schema_version": SCHEMA_VERSION,
        "request_id": log.request_id,
        "event_time": event_time,
        "dt": dt,
        "account_id": log.account_id,
        "region": log.region,
        "inference_region": log.inference_region or log.region,
        "operation": log.operation,
        "model_id": log.model_id,
        "model": quote.model,
        "inference_scope": quote.scope,
        "principal_arn": log.identity.arn,
        "entity_type": route.entity_type,
        "entity_id": route.entity_id,
        "entity_name": route.entity_name,
        "input_tokens": inp.input_token_count if inp else None,
        "output_tokens": out.output_token_count if out else None,
        "cache_read_input_tokens": inp.cache_read_input_token_count if inp else None,
        "cache_write_input_tokens": inp.cache_write_input_token_count if inp else None,
        "input_cost_usd": _usd(costs.input),
        "output_cost_usd": _usd(costs.output),
        "cache_read_cost_usd": _usd(costs.cache_read),
        "cache_write_cost_usd": _usd(costs.cache_write),
        "estimated_cost_usd": _usd(costs.total),
        "pricing_status": costs.status,
        "price_version": quote.price_version,
        "error_code": log.error_code,
        "request_metadata": log.request_metadata,
        "log_group": source.log_group,
        "log_stream": source.log_stream,
        "log_event_id": source.log_event_id,
        "invalid_reason": None,
        "raw_message": None,
    }


def invalid_record(message: str, reason: str, dt: str, route: Route, source: Source) -> dict[str, Any]:
    """The record of a log event that is not a valid invocation log (kept, never dropped)."""
    if len(message) > MAX_RAW_MESSAGE:
        reason = (
            f"{reason} (raw_message truncated from {len(message)} characters; the whole event is "
            f"log_event_id in log_group/log_stream)"
        )
        message = message[:MAX_RAW_MESSAGE]
    record = dict.fromkeys(FIELDS)
    record.update(
        schema_version=SCHEMA_VERSION,
        dt=dt,
        entity_type=route.entity_type,
        entity_id=route.entity_id,
        entity_name=route.entity_name,
        pricing_status="invalid",
        log_group=source.log_group,
        log_stream=source.log_stream,
        log_event_id=source.log_event_id,
        invalid_reason=reason,
        raw_message=message,
    )
    return record


def partition_key(record: dict[str, Any]) -> PartitionKey:
    """``(entity_type, entity_id, dt)`` of a record."""
    return (record["entity_type"], record["entity_id"], record["dt"])


def partition_keys_dict(key: PartitionKey) -> dict[str, str]:
    """The ``metadata.partitionKeys`` object for Firehose."""
    return dict(zip(PARTITION_KEYS, key, strict=True))
