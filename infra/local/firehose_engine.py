"""A local Amazon Data Firehose delivery engine for an extended S3 destination.

moto stores a delivery stream's processing configuration but never runs it, so this engine provides
Firehose's delivery semantics, configured from the stream's own ``DescribeDeliveryStream``
description. The contract it implements, with the AWS documentation it follows:

- Lambda buffering and invocation (``BufferSizeInMBs`` / ``BufferIntervalInSeconds``, default 1 MB /
  60 s; request and response each limited to 6 MB):
  https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html
- Response contract: every input ``recordId`` exactly once, ``result`` in ``Ok | Dropped |
  ProcessingFailed``, ``data`` base64; anything else fails the whole invocation:
  https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html
- Failure handling: a failed invocation is retried ``NumberOfRetries`` times (default 3), then every
  record of the batch is written to the error output; ``ProcessingFailed`` records are written there
  too, one JSON object per line ``{attemptsMade, arrivalTimestamp, errorCode, errorMessage,
  attemptEndingTimestamp, rawData, lambdaArn}``:
  https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html
- Dynamic partitioning (``metadata.partitionKeys`` from the Lambda, ``partitioning-failed`` error
  output, 500 active partitions per stream, buffering per partition):
  https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html ,
  https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-error-handling.html ,
  https://docs.aws.amazon.com/firehose/latest/dev/buffering.html
- Prefix expressions and object names: :mod:`infra.local.prefixes`.

Error codes. ``Lambda.FunctionError`` (the function raised), ``Lambda.JsonProcessingException`` (the
response is not the documented shape), ``Lambda.MissingRecordId`` / ``Lambda.DuplicatedRecordId``
(response contract) and ``Lambda.ProcessingFailed`` follow the names Firehose uses in its error
logs; ``Lambda.InvalidRecordId`` (unknown recordId), ``Lambda.ResponseSizeTooLarge`` and the
``DynamicPartitioning.*`` codes are this engine's labels for cases whose exact AWS code is not
documented.

Not emulated: jq inline parsing (``partitionKeyFromQuery``), record format conversion, the
Decompression / message-extraction processors, custom time zones, new-line delimiters, S3 backup.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.local.prefixes import (
    DEFAULT_ERROR_PREFIX,
    DEFAULT_PREFIX,
    PrefixError,
    evaluate_prefix,
    object_suffix,
    parse_expressions,
    partition_key_names,
    validate_prefix,
)

MIB = 1024 * 1024
MAX_LAMBDA_PAYLOAD_BYTES = 6_000_000
MAX_ACTIVE_PARTITIONS = 500
DEFAULT_NUMBER_OF_RETRIES = 3
DEFAULT_PROCESSOR_BUFFER_MB = 1.0
DEFAULT_PROCESSOR_INTERVAL_S = 60
DEFAULT_BUFFER_MB = 5.0
DEFAULT_BUFFER_INTERVAL_S = 300
RESULTS = frozenset({"Ok", "Dropped", "ProcessingFailed"})

PROCESSING_FAILED = "processing-failed"
PARTITIONING_FAILED = "partitioning-failed"

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
Clock = Callable[[], float]


class ConfigError(ValueError):
    """The delivery stream description is one Firehose would refuse, or one this engine cannot run."""


@dataclass(frozen=True)
class StreamConfig:
    """What the engine needs from a delivery stream description."""

    name: str
    arn: str
    region: str
    version: str
    bucket: str
    prefix: str
    error_prefix: str
    buffer_size_bytes: int
    buffer_interval_s: float
    compression: str
    processing_enabled: bool
    lambda_arn: str | None
    number_of_retries: int
    processor_buffer_bytes: int
    processor_interval_s: float
    dynamic_partitioning: bool

    @property
    def extension(self) -> str:
        """File extension Firehose appends for the configured compression."""
        return ".gz" if self.compression == "GZIP" else ""

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> StreamConfig:
        """Build from ``describe_delivery_stream(...)["DeliveryStreamDescription"]``.

        Accepts real AWS's shape (``Destinations[0].ExtendedS3DestinationDescription``, which moto
        also returns) and a bare description with ``ExtendedS3DestinationDescription`` at top level.
        Processor parameter values may be strings (the API type) or numbers.
        """
        dest: Mapping[str, Any] | None = description.get("ExtendedS3DestinationDescription")
        if dest is None:
            for candidate in description.get("Destinations", []):
                dest = candidate.get("ExtendedS3DestinationDescription") or candidate.get(
                    "S3DestinationDescription"
                )
                if dest is not None:
                    break
        if dest is None:
            raise ConfigError("no (Extended)S3 destination in the delivery stream description")
        name = str(description["DeliveryStreamName"])
        arn = str(
            description.get(
                "DeliveryStreamARN", f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"
            )
        )
        region = arn.split(":")[3] if arn.count(":") >= 5 else "us-east-1"
        bucket_arn = str(dest["BucketARN"])
        if not bucket_arn.startswith("arn:") or ":::" not in bucket_arn:
            raise ConfigError(f"not an S3 bucket ARN: {bucket_arn!r}")
        hints = dest.get("BufferingHints") or {}
        compression = str(dest.get("CompressionFormat") or "UNCOMPRESSED")
        if compression not in ("GZIP", "UNCOMPRESSED"):
            raise ConfigError(f"CompressionFormat {compression!r} is not emulated (GZIP or UNCOMPRESSED)")

        processing = dest.get("ProcessingConfiguration") or {}
        processing_enabled = bool(processing.get("Enabled", False))
        lambda_arn: str | None = None
        params: dict[str, str] = {}
        for processor in processing.get("Processors", []) if processing_enabled else []:
            if processor.get("Type") != "Lambda":
                raise ConfigError(f"processor type {processor.get('Type')!r} is not emulated")
            params = {
                str(p["ParameterName"]): str(p["ParameterValue"]) for p in processor.get("Parameters", [])
            }
            lambda_arn = params.get("LambdaArn")
        if processing_enabled and not lambda_arn:
            raise ConfigError("processing is enabled but no Lambda processor with a LambdaArn is configured")

        dynamic = bool((dest.get("DynamicPartitioningConfiguration") or {}).get("Enabled", False))
        prefix = str(dest.get("Prefix") or "")
        error_prefix = str(dest.get("ErrorOutputPrefix") or "")
        _validate(prefix, error_prefix, dynamic=dynamic, processing=processing_enabled)

        return cls(
            name=name,
            arn=arn,
            region=region,
            version=str(description.get("VersionId", "1")),
            bucket=bucket_arn.split(":::", 1)[1],
            prefix=prefix or DEFAULT_PREFIX,
            error_prefix=error_prefix or DEFAULT_ERROR_PREFIX,
            buffer_size_bytes=int(float(hints.get("SizeInMBs", DEFAULT_BUFFER_MB)) * MIB),
            buffer_interval_s=float(hints.get("IntervalInSeconds", DEFAULT_BUFFER_INTERVAL_S)),
            compression=compression,
            processing_enabled=processing_enabled,
            lambda_arn=lambda_arn,
            number_of_retries=int(params.get("NumberOfRetries", DEFAULT_NUMBER_OF_RETRIES)),
            processor_buffer_bytes=int(
                float(params.get("BufferSizeInMBs", DEFAULT_PROCESSOR_BUFFER_MB)) * MIB
            ),
            processor_interval_s=float(params.get("BufferIntervalInSeconds", DEFAULT_PROCESSOR_INTERVAL_S)),
            dynamic_partitioning=dynamic,
        )


def _validate(prefix: str, error_prefix: str, *, dynamic: bool, processing: bool) -> None:
    try:
        validate_prefix(prefix, is_error_prefix=False)
        validate_prefix(error_prefix, is_error_prefix=True)
    except PrefixError as exc:
        raise ConfigError(str(exc)) from exc
    keys = partition_key_names(prefix)
    if keys and not dynamic:
        raise ConfigError("partitionKeyFromLambda expressions need dynamic partitioning enabled")
    if keys and not processing:
        raise ConfigError("partitionKeyFromLambda expressions need a Lambda processor")
    if dynamic and not error_prefix:
        raise ConfigError("dynamic partitioning requires an ErrorOutputPrefix")
    if parse_expressions(prefix) and not error_prefix:
        raise ConfigError("a Prefix with expressions requires an ErrorOutputPrefix")


@dataclass
class EngineStats:
    """Counters the caller can read (``engine.stats``) or dump (``as_dict()``)."""

    records_in: int = 0
    bytes_in: int = 0
    ok: int = 0
    dropped: int = 0
    processing_failed: int = 0
    invocation_failed_records: int = 0
    partitioning_failed: int = 0
    invocations: int = 0
    failed_invocations: int = 0
    retries: int = 0
    objects_written: int = 0
    error_objects_written: int = 0
    bytes_written: int = 0
    records_delivered: int = 0
    error_records_written: int = 0
    partitions: set[str] = field(default_factory=set)
    max_active_partitions: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly snapshot (``partitions`` becomes a sorted list)."""
        data = asdict(self)
        data["partitions"] = sorted(self.partitions)
        return data


@dataclass
class _Record:
    record_id: str
    data: bytes
    arrival_ms: int


@dataclass
class _Buffer:
    """Records waiting for one S3 object (a partition, or an error output type)."""

    template: str
    keys: dict[str, str]
    error_type: str | None
    opened_at: float
    oldest_ms: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    records: int = 0


@dataclass(frozen=True)
class WrittenObject:
    """One object the engine put to S3."""

    key: str
    records: int
    bytes: int
    error_type: str | None


class FirehoseEngine:
    """Buffers, transforms (via ``invoke``), partitions and delivers records to S3 like Firehose.

    Wiring: ``FirehoseEngine(description, s3_client, invoke=lambda event: handler(event, ctx))``.
    ``put_records`` buffers and returns record ids; processing happens when the Lambda buffer is
    full (on put), when due (``tick()``), or on ``flush()``. ``invoke`` receives a real Firehose
    transformation event; the engine holds no lock while it runs, so the function may re-put records
    into this engine (directly or through :mod:`infra.local.firehose_api`).
    """

    def __init__(
        self,
        description: Mapping[str, Any],
        s3_client: Any,
        invoke: Invoke | None = None,
        *,
        clock: Clock = time.time,
        max_flush_rounds: int = 100,
    ) -> None:
        self.config = StreamConfig.from_description(description)
        if self.config.processing_enabled and invoke is None:
            raise ConfigError(f"stream {self.config.name} has a Lambda processor: pass invoke=")
        self._s3 = s3_client
        self._invoke = invoke
        self._clock = clock
        self._max_flush_rounds = max_flush_rounds
        self._lock = threading.RLock()
        self._pending: list[_Record] = []
        self._pending_bytes = 0
        self._pending_since: float | None = None
        self._buffers: dict[tuple[str, ...], _Buffer] = {}
        self._seq = 0
        self.stats = EngineStats()
        self.written: list[WrittenObject] = []
        self._key_names = partition_key_names(self.config.prefix)

    # ------------------------------------------------------------------ ingest
    def put_records(self, records: Sequence[bytes]) -> list[str]:
        """Accept raw records (as PutRecordBatch would) and return their record ids."""
        now = self._clock()
        arrival_ms = int(now * 1000)
        ids: list[str] = []
        with self._lock:
            for data in records:
                self._seq += 1
                record_id = f"{self._seq:020d}{uuid.uuid4().hex}"
                ids.append(record_id)
                self.stats.records_in += 1
                self.stats.bytes_in += len(data)
                if self.config.processing_enabled:
                    if self._pending_since is None:
                        self._pending_since = now
                    self._pending.append(_Record(record_id, bytes(data), arrival_ms))
                    self._pending_bytes += len(data)
                else:
                    self._route_ok(_Record(record_id, bytes(data), arrival_ms), bytes(data), {}, now)
            full = self._pending_bytes >= self.config.processor_buffer_bytes
        if full:
            self._process_pending()
        self._deliver(self._take_buffers(lambda b: b.size >= self.config.buffer_size_bytes))
        return ids

    def tick(self) -> None:
        """Process and deliver whatever is due by the clock (the buffering intervals)."""
        now = self._clock()
        with self._lock:
            due = (
                self._pending_since is not None
                and now - self._pending_since >= self.config.processor_interval_s
            )
        if due:
            self._process_pending()
        self._deliver(
            self._take_buffers(
                lambda b: (
                    now - b.opened_at >= self.config.buffer_interval_s
                    or b.size >= self.config.buffer_size_bytes
                )
            )
        )

    def flush(self) -> None:
        """Process everything pending (including records re-put meanwhile) and deliver every buffer.

        Re-puts made by the function during a flush are processed in further rounds, at most
        ``max_flush_rounds``; beyond that :class:`RuntimeError` (an unbounded reingest loop).
        """
        for _ in range(self._max_flush_rounds):
            with self._lock:
                if not self._pending:
                    break
            self._process_pending()
        else:
            with self._lock:
                if self._pending:
                    raise RuntimeError(f"flush: records still re-put after {self._max_flush_rounds} rounds")
        self._deliver(self._take_buffers(lambda b: True))

    @property
    def pending_records(self) -> int:
        """Records waiting for the Lambda."""
        with self._lock:
            return len(self._pending)

    @property
    def buffered_records(self) -> int:
        """Records waiting in partition / error buffers for S3 delivery."""
        with self._lock:
            return sum(b.records for b in self._buffers.values())

    # -------------------------------------------------------------- processing
    def _process_pending(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._pending_bytes = 0
            self._pending_since = None
        for chunk in _split_for_lambda(batch):
            self._process_batch(chunk)

    def _event(self, batch: Sequence[_Record]) -> dict[str, Any]:
        return {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": self.config.arn,
            "region": self.config.region,
            "records": [
                {
                    "recordId": r.record_id,
                    "approximateArrivalTimestamp": r.arrival_ms,
                    "data": base64.b64encode(r.data).decode("ascii"),
                }
                for r in batch
            ],
        }

    def _process_batch(self, batch: Sequence[_Record]) -> None:
        assert self._invoke is not None
        attempts = 0
        error: tuple[str, str] = ("", "")
        results: dict[str, dict[str, Any]] | None = None
        while attempts <= self.config.number_of_retries:
            if attempts:
                with self._lock:
                    self.stats.retries += 1
            attempts += 1
            with self._lock:
                self.stats.invocations += 1
            try:
                response = self._invoke(self._event(batch))
            except Exception as exc:
                error = ("Lambda.FunctionError", f"{type(exc).__name__}: {exc}")
            else:
                outcome = validate_response(response, [r.record_id for r in batch])
                if isinstance(outcome, dict):
                    results = outcome
                    break
                error = outcome
            with self._lock:
                self.stats.failed_invocations += 1
        now = self._clock()
        with self._lock:
            if results is None:
                self.stats.invocation_failed_records += len(batch)
                for rec in batch:
                    self._route_error(
                        rec, PROCESSING_FAILED, error[0], error[1], attempts, now, lambda_arn=True
                    )
                return
            for rec in batch:
                out = results[rec.record_id]
                result = out["result"]
                if result == "Dropped":
                    self.stats.dropped += 1
                elif result == "ProcessingFailed":
                    self.stats.processing_failed += 1
                    self._route_error(
                        rec,
                        PROCESSING_FAILED,
                        "Lambda.ProcessingFailed",
                        "The Lambda function reported ProcessingFailed for this record.",
                        attempts,
                        now,
                        lambda_arn=True,
                    )
                else:
                    keys = ((out.get("metadata") or {}).get("partitionKeys")) or {}
                    self._route_ok(rec, base64.b64decode(out["data"]), keys, now)

    # ----------------------------------------------------------------- routing
    def _route_ok(self, rec: _Record, data: bytes, keys: Mapping[str, Any], now: float) -> None:
        """Put an Ok record's data into its partition buffer (lock held)."""
        used = {k: str(keys[k]) for k in self._key_names if k in keys}
        missing = [k for k in self._key_names if k not in keys]
        if missing:
            self._route_error(
                rec, PARTITIONING_FAILED, "DynamicPartitioning.MissingPartitionKeys",
                f"metadata.partitionKeys lacks {missing} used by the Prefix", 1, now, data=data,
            )  # fmt: skip
            return
        try:
            evaluate_prefix(
                self.config.prefix, timestamp_ms=rec.arrival_ms, partition_keys=used, random=lambda: "x" * 11
            )
        except PrefixError as exc:
            self._route_error(
                rec,
                PARTITIONING_FAILED,
                "DynamicPartitioning.PrefixEvaluationFailed",
                str(exc),
                1,
                now,
                data=data,
            )
            return
        slot = ("ok", *(f"{k}={used[k]}" for k in self._key_names))
        if slot not in self._buffers:
            active = sum(1 for s in self._buffers if s[0] == "ok")
            if self.config.dynamic_partitioning and active >= MAX_ACTIVE_PARTITIONS:
                self._route_error(
                    rec, PARTITIONING_FAILED, "DynamicPartitioning.ActivePartitionsLimitExceeded",
                    f"more than {MAX_ACTIVE_PARTITIONS} active partitions", 1, now, data=data,
                )  # fmt: skip
                return
            self._buffers[slot] = _Buffer(self.config.prefix, used, None, now, rec.arrival_ms)
            self.stats.max_active_partitions = max(self.stats.max_active_partitions, active + 1)
        self.stats.ok += 1
        self.stats.partitions.add("/".join(slot[1:]))
        self._append(self._buffers[slot], data, rec.arrival_ms)

    def _route_error(
        self,
        rec: _Record,
        error_type: str,
        code: str,
        message: str,
        attempts: int,
        now: float,
        *,
        lambda_arn: bool = False,
        data: bytes | None = None,
    ) -> None:
        """Append one error-format JSON line to the error buffer of ``error_type`` (lock held).

        ``processing-failed`` rows carry the original record (``rawData``) and ``lambdaArn``;
        ``partitioning-failed`` rows carry the data Firehose tried to partition (the Lambda's output
        when a processor is configured) and no ``lambdaArn``.
        """
        if error_type == PARTITIONING_FAILED:
            self.stats.partitioning_failed += 1
        row: dict[str, Any] = {
            "attemptsMade": attempts,
            "arrivalTimestamp": rec.arrival_ms,
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": int(now * 1000),
            "rawData": base64.b64encode(rec.data if data is None else data).decode("ascii"),
        }
        if lambda_arn:
            row["lambdaArn"] = self.config.lambda_arn
        slot = ("error", error_type)
        if slot not in self._buffers:
            self._buffers[slot] = _Buffer(self.config.error_prefix, {}, error_type, now, rec.arrival_ms)
        self._append(
            self._buffers[slot], json.dumps(row, separators=(",", ":")).encode() + b"\n", rec.arrival_ms
        )

    @staticmethod
    def _append(buf: _Buffer, data: bytes, arrival_ms: int) -> None:
        buf.chunks.append(data)
        buf.size += len(data)
        buf.records += 1
        buf.oldest_ms = min(buf.oldest_ms, arrival_ms)

    # ---------------------------------------------------------------- delivery
    def _take_buffers(self, due: Callable[[_Buffer], bool]) -> list[_Buffer]:
        with self._lock:
            taken = [slot for slot, buf in self._buffers.items() if due(buf)]
            return [self._buffers.pop(slot) for slot in taken]

    def _deliver(self, buffers: Sequence[_Buffer]) -> None:
        for buf in buffers:
            body = b"".join(buf.chunks)
            if self.config.compression == "GZIP":
                body = gzip.compress(body)
            prefix = evaluate_prefix(
                buf.template,
                timestamp_ms=buf.oldest_ms,
                partition_keys=buf.keys,
                error_output_type=buf.error_type,
            )
            now_ms = int(self._clock() * 1000)
            key = prefix + object_suffix(
                self.config.name, self.config.version, now_ms, str(uuid.uuid4()), self.config.extension
            )
            self._s3.put_object(Bucket=self.config.bucket, Key=key, Body=body)
            with self._lock:
                self.written.append(WrittenObject(key, buf.records, len(body), buf.error_type))
                self.stats.bytes_written += len(body)
                if buf.error_type is None:
                    self.stats.objects_written += 1
                    self.stats.records_delivered += buf.records
                else:
                    self.stats.error_objects_written += 1
                    self.stats.error_records_written += buf.records


def validate_response(
    response: Any, record_ids: Sequence[str]
) -> dict[str, dict[str, Any]] | tuple[str, str]:
    """Check a transformation response against Firehose's contract.

    Returns ``{recordId: output record}`` when valid, else ``(errorCode, errorMessage)`` for an
    invocation failure: response over 6,000,000 bytes, not ``{"records": [...]}``, a record without
    a string ``recordId``, a ``result`` outside ``Ok|Dropped|ProcessingFailed``, ``Ok`` without
    base64 ``data``, a missing, duplicated or unknown ``recordId``.
    """
    try:
        size = len(json.dumps(response, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        return "Lambda.JsonProcessingException", f"response is not JSON-serialisable: {exc}"
    if size > MAX_LAMBDA_PAYLOAD_BYTES:
        return "Lambda.ResponseSizeTooLarge", f"response is {size} bytes, over {MAX_LAMBDA_PAYLOAD_BYTES}"
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        return "Lambda.JsonProcessingException", "response is not an object with a 'records' array"
    expected = set(record_ids)
    seen: dict[str, dict[str, Any]] = {}
    for out in response["records"]:
        if not isinstance(out, dict) or not isinstance(out.get("recordId"), str):
            return "Lambda.JsonProcessingException", "an output record has no string recordId"
        rid = out["recordId"]
        if rid in seen:
            return "Lambda.DuplicatedRecordId", f"recordId {rid} appears more than once in the response"
        if rid not in expected:
            return "Lambda.InvalidRecordId", f"recordId {rid} was not in the request"
        if out.get("result") not in RESULTS:
            return "Lambda.JsonProcessingException", f"record {rid} has invalid result {out.get('result')!r}"
        if out["result"] == "Ok":
            data = out.get("data")
            if not isinstance(data, str):
                return "Lambda.JsonProcessingException", f"Ok record {rid} has no base64 data"
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return "Lambda.JsonProcessingException", f"Ok record {rid} data is not base64"
            keys = (out.get("metadata") or {}).get("partitionKeys")
            if keys is not None and not isinstance(keys, dict):
                return (
                    "Lambda.JsonProcessingException",
                    f"record {rid} metadata.partitionKeys is not an object",
                )
        seen[rid] = out
    missing = expected - seen.keys()
    if missing:
        return "Lambda.MissingRecordId", f"{len(missing)} recordId(s) missing from the response"
    return seen


def _split_for_lambda(batch: Sequence[_Record]) -> list[list[_Record]]:
    """Split into invocation requests whose JSON event stays under 6,000,000 bytes."""
    chunks: list[list[_Record]] = []
    current: list[_Record] = []
    size = 512  # envelope: invocationId, deliveryStreamArn, region
    for rec in batch:
        rec_size = 4 * ((len(rec.data) + 2) // 3) + len(rec.record_id) + 96
        if current and size + rec_size > MAX_LAMBDA_PAYLOAD_BYTES:
            chunks.append(current)
            current, size = [], 512
        current.append(rec)
        size += rec_size
    if current:
        chunks.append(current)
    return chunks
