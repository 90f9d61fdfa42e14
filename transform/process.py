"""The pure core of the Firehose transform: a transformation event in, a response plus re-puts out.

Contract (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html and
https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html):

* Every input ``recordId`` appears exactly once in the response, with ``Ok``, ``Dropped`` or
  ``ProcessingFailed``. Undecodable data → ``ProcessingFailed`` (Firehose writes it to the error
  prefix); ``CONTROL_MESSAGE`` and events echoed from the mirror's own log groups → ``Dropped``.
* An ``Ok`` record holds newline-delimited spend records of exactly **one** partition key
  ``(entity_type, entity_id, dt)`` and carries it in ``metadata.partitionKeys``. Firehose does not
  tie a response record's data to its input record's content, so the batch's spend records are
  grouped by key across all its records and the keys are spread over the data records, largest
  first; a data record left without a key is ``Dropped`` (its events travel in other records).
  Only keys beyond the number of data records become *re-put payloads*, which the handler puts
  back into the same delivery stream; on their second pass they are passed through unchanged and
  never split again.
* The response stays within ``response_budget_bytes`` (Firehose's limit is 6 MB): when it would
  not, whole ``Ok`` records are turned into re-puts (result ``Dropped``). A re-put record may be
  deferred at most ``max_reput_hops`` times, then it is ``ProcessingFailed`` — kept in the error
  prefix, never looped forever.
* Conservation: every log event of a data message ends in exactly one spend record, either in an
  ``Ok`` record or in a re-put payload.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationRecordMetadata,
    KinesisFirehoseDataTransformationResponse,
)

from transform import codec
from transform.envelope import Decoded, LogEvent, decode_record, encode_reput
from transform.invocation import InvalidEvent, parse_invocation, parse_timestamp
from transform.pricing import Catalogue, PriceQuote
from transform.record import (
    PartitionKey,
    SpendRecord,
    invalid_record,
    partition_keys_dict,
    spend_record,
)
from transform.routing import Route, Router

Result = Literal["Ok", "Dropped", "ProcessingFailed"]
#: PutRecordBatch accepts records up to 1,000 KiB
#: (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html).
MAX_REPUT_RECORD_BYTES = 1_000 * 1024
_REPUT_HEADER_ALLOWANCE = 512
_RESPONSE_RECORD_OVERHEAD = 160
#: Bounded: session names make principals many (each ARN ~0.5 KB with its route and quote).
_CONTEXT_CACHE_LIMIT = 20_000


@dataclass
class OutRecord:
    """One response record before encoding."""

    record_id: str
    result: Result
    data: bytes = b""
    partition: PartitionKey | None = None
    passthrough_hops: int | None = None  # set for re-put records on their second pass
    slot: bool = False  # a first-pass data record: carries one of the batch's keys
    events: int = 0
    reason: str | None = None
    original: str = ""

    def response_size(self) -> int:
        """Approximate bytes this record takes in the JSON response."""
        data_len = (len(self.data) + 2) // 3 * 4 if self.result == "Ok" else 0
        keys = sum(map(len, self.partition)) if self.partition else 0
        return _RESPONSE_RECORD_OVERHEAD + len(self.record_id) + data_len + keys


@dataclass
class Stats:
    """What one invocation did (published as metrics and logged)."""

    records_in: int = 0
    ok: int = 0
    dropped: int = 0
    processing_failed: int = 0
    control_messages: int = 0
    events: int = 0
    invalid: int = 0
    unattributed: int = 0
    loop_guard_events: int = 0
    passthrough_records: int = 0
    passthrough_events: int = 0
    reput_records: int = 0
    reput_events: int = 0
    deferred_records: int = 0
    cost_pico_by_type: Counter[str] = field(default_factory=Counter)
    events_by_type: Counter[str] = field(default_factory=Counter)
    shapes: Counter[str] = field(default_factory=Counter)


@dataclass
class Outcome:
    """The response records, the payloads to re-put, and the statistics."""

    records: list[OutRecord]
    reputs: list[bytes]
    stats: Stats

    def response(self) -> dict[str, Any]:
        """The Firehose transformation response, built with Powertools' response data classes."""
        response = KinesisFirehoseDataTransformationResponse()
        for rec in self.records:
            if rec.result == "Ok":
                metadata = (
                    KinesisFirehoseDataTransformationRecordMetadata(
                        partition_keys=partition_keys_dict(rec.partition)
                    )
                    if rec.partition is not None
                    else None
                )
                data = codec.b64encode(rec.data)
            else:
                # Firehose writes the *original* record to the error prefix (rawData), as the AWS
                # CloudWatch Logs blueprint relies on; no data is echoed back.
                metadata, data = None, ""
            response.add_record(
                KinesisFirehoseDataTransformationRecord(
                    record_id=rec.record_id, result=rec.result, data=data, metadata=metadata
                )
            )
        return response.asdict() if self.records else {"records": []}


def _arrival_date(ms: Any) -> str:
    try:
        return datetime.fromtimestamp(float(ms) / 1000, UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC).strftime("%Y-%m-%d")


def _chunk_reputs(key: PartitionKey, lines: list[bytes], hops: int) -> list[bytes]:
    """Split one group's lines into re-put payloads of at most ``MAX_REPUT_RECORD_BYTES``."""
    payloads: list[bytes] = []
    budget = MAX_REPUT_RECORD_BYTES - _REPUT_HEADER_ALLOWANCE - sum(map(len, key))
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > budget:
            payloads.append(encode_reput(key, hops, chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        payloads.append(encode_reput(key, hops, chunk))
    return payloads


class Transformer:
    """Decode → parse → route → price → record → partition, for one transformation event."""

    def __init__(
        self,
        router: Router,
        catalogue: Catalogue,
        response_budget_bytes: int = 6_000_000,
        max_reput_hops: int = 3,
    ) -> None:
        self.router = router
        self.catalogue = catalogue
        self.response_budget_bytes = response_budget_bytes
        self.max_reput_hops = max_reput_hops
        self._mirrored = router.mirrored_prefixes()
        # (principal, own account, model id, region, day[, trusted metadata]) -> (route, quote)
        self._contexts: dict[tuple[str | None, ...], tuple[Route, PriceQuote]] = {}

    # -- one log event ------------------------------------------------------------------------
    def event_record(
        self, event: LogEvent, decoded: Decoded, arrival_dt: str, own_account: str | None = None
    ) -> tuple[SpendRecord, int | None]:
        """The spend record (or invalid record) of one log event, and its cost in pico-USD.

        ``own_account`` is the account whose logs these are (the envelope's ``owner``); ``None``
        means the event's own ``accountId`` (bare messages carry no owner).
        """
        group, stream = decoded.log_group or None, decoded.log_stream or None
        try:
            log = parse_invocation(event.message)
            event_time, dt = parse_timestamp(log.timestamp)
        except InvalidEvent as exc:
            reason = str(exc)
            route = self.router.invalid_route(reason)
            return invalid_record(event.message, reason, arrival_dt, route, group, stream, event.id), None
        owner = own_account or log.account_id
        metadata = log.request_metadata
        key: tuple[str | None, ...] = (log.identity.arn, owner, log.model_id, log.region, dt)
        if metadata and self.router.metadata_keys:
            key += tuple(metadata.get(k) for k in self.router.metadata_keys)
        context = self._contexts.get(key)
        if context is None:
            if len(self._contexts) >= _CONTEXT_CACHE_LIMIT:
                self._contexts.clear()
            context = self._contexts[key] = (
                self.router.route(log.identity.arn, owner, metadata, log.model_id),
                self.catalogue.quote(log.model_id, log.region, dt),
            )
        route, quote = context
        inp, out = log.input, log.output
        if inp is None:
            costs = self.catalogue.cost(quote, None, out.output_token_count if out else None, None, None)
        else:
            costs = self.catalogue.cost(
                quote,
                inp.input_token_count,
                out.output_token_count if out else None,
                inp.cache_read_input_token_count,
                inp.cache_write_input_token_count,
            )
        record = spend_record(log, event_time, dt, route, quote, costs, group, stream, event.id)
        return record, costs.total

    def _is_mirrored(self, log_group: str) -> bool:
        return bool(log_group) and any(
            log_group == p or (p.endswith("/") and log_group.startswith(p)) for p in self._mirrored
        )

    # -- one Firehose record --------------------------------------------------------------------
    def _record(
        self, raw: dict[str, Any], stats: Stats, groups: dict[PartitionKey, list[bytes]]
    ) -> OutRecord:
        record_id = raw["recordId"]
        original = raw.get("data")
        if not isinstance(original, str):
            stats.processing_failed += 1
            return OutRecord(record_id, "ProcessingFailed", reason="record has no data", original="")
        try:
            decoded = decode_record(codec.b64decode(original))
        except codec.CodecError as exc:
            stats.processing_failed += 1
            return OutRecord(record_id, "ProcessingFailed", reason=str(exc)[:500], original=original)
        stats.shapes[decoded.shape] += 1
        if decoded.kind == "control":
            stats.control_messages += 1
            return OutRecord(record_id, "Dropped", reason="CONTROL_MESSAGE")
        if decoded.kind == "reput":
            assert decoded.reput is not None
            stats.passthrough_records += 1
            stats.passthrough_events += decoded.reput.count
            return OutRecord(
                record_id,
                "Ok",
                decoded.reput_body,
                decoded.reput.pk,
                passthrough_hops=decoded.reput.hops,
                events=decoded.reput.count,
                original=original,
            )
        if self._is_mirrored(decoded.log_group):
            stats.loop_guard_events += len(decoded.events)
            return OutRecord(record_id, "Dropped", reason=f"loop guard: {decoded.log_group} is mirrored")
        if not decoded.events:
            return OutRecord(record_id, "Dropped", reason="no log events")
        arrival_dt = _arrival_date(raw.get("approximateArrivalTimestamp"))
        encode = codec.json_dumps
        invalid_type = self.router.invalid_type
        unattributed_type = self.router.unattributed_type
        events_by_type = stats.events_by_type
        cost_by_type = stats.cost_pico_by_type
        owner = decoded.owner
        own_account = owner if len(owner) == 12 and owner.isdigit() else None
        event_record = self.event_record
        for event in decoded.events:
            rec, cost = event_record(event, decoded, arrival_dt, own_account)
            etype = rec.entity_type
            events_by_type[etype] += 1
            if etype == invalid_type:
                stats.invalid += 1
            elif etype == unattributed_type:
                stats.unattributed += 1
            if cost:
                cost_by_type[etype] += cost
            key = (etype, rec.entity_id, rec.dt)
            line = encode(rec) + b"\n"
            group = groups.get(key)
            if group is None:
                groups[key] = [line]
            else:
                group.append(line)
        stats.events += len(decoded.events)
        return OutRecord(record_id, "Ok", slot=True, original=original)

    def _assign(
        self,
        records: list[OutRecord],
        groups: dict[PartitionKey, list[bytes]],
        reputs: list[bytes],
        stats: Stats,
    ) -> None:
        """Spread the batch's keys over its data records, largest first; re-put the keys left over."""
        slots = [r for r in records if r.slot]
        keys = sorted(groups, key=lambda k: len(groups[k]), reverse=True)
        for slot, key in zip(slots, keys, strict=False):
            lines = groups[key]
            slot.data, slot.partition, slot.events = b"".join(lines), key, len(lines)
        for key in keys[len(slots) :]:
            lines = groups[key]
            reputs.extend(_chunk_reputs(key, lines, 0))
            stats.reput_events += len(lines)
        for slot in slots[len(keys) :]:
            slot.result, slot.reason = "Dropped", "its events are carried by other records of this batch"

    # -- the whole event --------------------------------------------------------------------------
    def process(self, event: dict[str, Any]) -> Outcome:
        """Transform one Firehose transformation event (see module contract)."""
        stats = Stats()
        reputs: list[bytes] = []
        raw_records = event.get("records") or []
        stats.records_in = len(raw_records)
        groups: dict[PartitionKey, list[bytes]] = {}
        records = [self._record(raw, stats, groups) for raw in raw_records]
        self._assign(records, groups, reputs, stats)
        self._fit_budget(records, reputs, stats)
        for rec in records:
            if rec.result == "Ok":
                stats.ok += 1
            elif rec.result == "Dropped":
                stats.dropped += 1
        stats.reput_records = len(reputs)
        return Outcome(records, reputs, stats)

    def _fit_budget(self, records: list[OutRecord], reputs: list[bytes], stats: Stats) -> None:
        """Turn whole Ok records into re-puts until the response fits the budget."""
        total = 64 + sum(r.response_size() for r in records)
        if total <= self.response_budget_bytes:
            return
        first_pass = [r for r in records if r.result == "Ok" and r.passthrough_hops is None]
        passthrough = [r for r in records if r.result == "Ok" and r.passthrough_hops is not None]
        for group in (first_pass, passthrough):
            for rec in sorted(group, key=lambda r: r.response_size(), reverse=True):
                if total <= self.response_budget_bytes:
                    return
                assert rec.partition is not None
                total -= rec.response_size()
                hops = 0 if rec.passthrough_hops is None else rec.passthrough_hops + 1
                if hops > self.max_reput_hops:
                    rec.result, rec.reason = "ProcessingFailed", "re-put record deferred too often"
                    stats.processing_failed += 1
                    total += rec.response_size()
                    continue
                lines = rec.data.splitlines(keepends=True)
                reputs.extend(_chunk_reputs(rec.partition, lines, hops))
                stats.reput_events += len(lines)
                stats.deferred_records += 1
                rec.result, rec.reason, rec.data = "Dropped", "deferred: response budget", b""
                total += rec.response_size()
