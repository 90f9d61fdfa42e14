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

import msgspec

from transform import codec
from transform.invocation import InvocationLog
from transform.pricing import Costs, PriceQuote, format_usd
from transform.routing import Route

SCHEMA_VERSION = "1"
PARTITION_KEYS = ("entity_type", "entity_id", "dt")
#: Raw messages of invalid events are kept up to this many characters (the full event stays in the
#: source log group, named by log_group/log_stream/log_event_id).
MAX_RAW_MESSAGE = 100_000


class SpendRecord(msgspec.Struct, omit_defaults=False):
    """Spend record v1; field order is the schema's (``schemas/spend_record.avsc``)."""

    schema_version: str
    request_id: str | None
    event_time: str | None
    dt: str
    account_id: str | None
    region: str | None
    inference_region: str | None
    operation: str | None
    model_id: str | None
    model: str | None
    inference_scope: str | None
    principal_arn: str | None
    entity_type: str
    entity_id: str
    entity_name: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_input_tokens: int | None
    cache_write_input_tokens: int | None
    input_cost_usd: msgspec.Raw | None
    output_cost_usd: msgspec.Raw | None
    cache_read_cost_usd: msgspec.Raw | None
    cache_write_cost_usd: msgspec.Raw | None
    estimated_cost_usd: msgspec.Raw | None
    pricing_status: str
    price_version: str | None
    error_code: str | None
    request_metadata: dict[str, str] | None
    log_group: str | None
    log_stream: str | None
    log_event_id: str | None
    invalid_reason: str | None
    raw_message: str | None


FIELDS: tuple[str, ...] = SpendRecord.__struct_fields__

PartitionKey = tuple[str, str, str]
_ZERO = codec.Raw(b"0")


def _usd(pico: int | None) -> codec.Raw | None:
    if pico is None:
        return None
    return codec.Raw(format_usd(pico)) if pico else _ZERO


def spend_record(
    log: InvocationLog,
    event_time: str,
    dt: str,
    route: Route,
    quote: PriceQuote,
    costs: Costs,
    log_group: str | None,
    log_stream: str | None,
    log_event_id: str | None,
) -> SpendRecord:
    """The spend record of one valid invocation."""
    inp, out = log.input, log.output
    return SpendRecord(
        SCHEMA_VERSION,
        log.request_id,
        event_time,
        dt,
        log.account_id,
        log.region,
        log.inference_region or log.region,
        log.operation,
        log.model_id,
        quote.model,
        quote.scope,
        log.identity.arn,
        route.entity_type,
        route.entity_id,
        route.entity_name,
        inp.input_token_count if inp else None,
        out.output_token_count if out else None,
        inp.cache_read_input_token_count if inp else None,
        inp.cache_write_input_token_count if inp else None,
        _usd(costs.input) if costs.input else (_ZERO if costs.input == 0 else None),
        _usd(costs.output) if costs.output else (_ZERO if costs.output == 0 else None),
        _usd(costs.cache_read) if costs.cache_read else (_ZERO if costs.cache_read == 0 else None),
        _usd(costs.cache_write) if costs.cache_write else (_ZERO if costs.cache_write == 0 else None),
        _usd(costs.total) if costs.total else (_ZERO if costs.total == 0 else None),
        costs.status,
        quote.price_version,
        log.error_code,
        log.request_metadata,
        log_group,
        log_stream,
        log_event_id,
        None,
        None,
    )


def invalid_record(
    message: str,
    reason: str,
    dt: str,
    route: Route,
    log_group: str | None,
    log_stream: str | None,
    log_event_id: str | None,
) -> SpendRecord:
    """The record of a log event that is not a valid invocation log (kept, never dropped)."""
    if len(message) > MAX_RAW_MESSAGE:
        reason = (
            f"{reason} (raw_message truncated from {len(message)} characters; the whole event is "
            f"log_event_id in log_group/log_stream)"
        )
        message = message[:MAX_RAW_MESSAGE]
    return SpendRecord(
        SCHEMA_VERSION, None, None, dt, None, None, None, None, None, None, None, None,
        route.entity_type, route.entity_id, route.entity_name or None,
        None, None, None, None, None, None, None, None, None,
        "invalid", None, None, None, log_group, log_stream, log_event_id, reason, message,
    )  # fmt: skip


def partition_key(record: SpendRecord) -> PartitionKey:
    """``(entity_type, entity_id, dt)`` of a record."""
    return (record.entity_type, record.entity_id, record.dt)


def partition_keys_dict(key: PartitionKey) -> dict[str, str]:
    """The ``metadata.partitionKeys`` object for Firehose."""
    return dict(zip(PARTITION_KEYS, key, strict=True))
