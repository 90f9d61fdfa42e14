"""Mirror Lambda: copy every spend record that lands in S3 into its entity's CloudWatch Logs group.

Flow: S3 ``ObjectCreated`` → SQS → this function, with Powertools' SQS :class:`BatchProcessor` and
``process_partial_response`` (https://docs.powertools.aws.dev/lambda/python/latest/utilities/batch/):
every SQS message is processed on its own and only failed ones are returned in ``batchItemFailures``, so a
poisoned object is retried (and finally dead-lettered by the queue's ``maxReceiveCount``) without
blocking the others. A message body is an S3 event notification
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html) with one
or more ``Records``; the ``s3:TestEvent`` that S3 sends when the notification is configured is
acknowledged and ignored.

Per object: the body is streamed (gzip detected by its magic number and decompressed on the fly by
:func:`transform.codec.iter_lines`), each line is one spend record, mirrored **verbatim** (the JSON line
as written by the transform) as one log event:

* group — ``Router.log_group_for(entity_type, entity_id)``, the routing configuration the transform
  uses, so a new entity type needs no code here;
* stream — the record's ``dt`` (``YYYY-MM-DD``): **one stream per entity and UTC day**. It is stable
  across objects (tailing an entity's day reads one stream), keeps the number of streams bounded, and
  a day's events can never break PutLogEvents' 24-hour span rule;
* timestamp — ``event_time`` in milliseconds. An ``invalid`` record has no ``event_time``: it gets its
  arrival time, i.e. the S3 object's ``LastModified``, clamped into its ``dt`` day (``dt`` is the
  arrival date the transform saw, so the clamp only matters at midnight).

Events are sorted chronologically and packed by :mod:`transform.logs_writer`; whatever CloudWatch Logs
would reject (too old, too new, beyond retention, too large) is reported: counted in the result, logged
with the request ids and published as the ``MirrorRejectedEvents`` metric, never silently lost (the
records stay in S3, the source of truth).

**Idempotency** (SQS is at-least-once and a Lambda may die half-way). Two layers of Powertools
idempotency on the DynamoDB table ``settings.idempotency_table`` (PK ``id``, TTL ``expiration``, as the
SAM template creates it; https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/):

1. per object, key ``[bucket, key, etag, version_id]``: a redelivered message for an object already
   mirrored returns the stored summary and writes nothing; a concurrent duplicate finds the record
   ``INPROGRESS`` and fails its message, to be retried once the first one finished;
2. per PutLogEvents batch, key ``object + group + stream + SHA-256 of the batch``: this is the progress
   checkpoint. If the function dies after writing some batches of an object, the retry re-reads the
   object, re-packs it deterministically, and skips every batch already written. The remaining window is
   a crash *between* a successful PutLogEvents and the DynamoDB update of that one batch, which repeats
   that batch; CloudWatch Logs has no idempotent put, so no scheme can close it without reading the
   stream back (eventually consistent).

Records are kept ``idempotency_ttl_seconds`` (default 15 days): after 14 days CloudWatch Logs rejects the
events anyway, so an expired key cannot cause a duplicate. With no table configured (local runs only)
nothing is de-duplicated.

**Loop guard.** A record whose source ``log_group`` is one of the mirror's own groups
(``Router.mirrored_prefixes()``: the per-type prefixes, the dead-letter and the invalid group) is
refused, counted (``MirrorLoopGuarded``) and logged. The transform already drops envelopes from those
groups; an account-level subscription filter policy
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters-AccountLevel.html) must
nevertheless **exclude** the ``/bedrock/*`` mirror groups (``selectionCriteria``
``LogGroupName NOT IN [...]``), or every mirrored event would be fed back into the pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from transform import codec
from transform.logs_writer import LogEvent, LogsWriter, OnceRunner, WriteResult
from transform.routing import Router, load_router
from transform.settings import Settings

logger = Logger(service="bedrock-spend-mirror")
metrics = Metrics(namespace="BedrockSpend", service="bedrock-spend-mirror")
tracer = Tracer(service="bedrock-spend-mirror")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CHUNK = 1024 * 1024
_MAX_LOGGED_IDS = 50


class MirrorError(RuntimeError):
    """An object that cannot be mirrored (unreadable, undecodable); its message fails."""


class _Fields(msgspec.Struct):
    """The fields of a spend record the mirror needs (the rest stays in the verbatim line)."""

    entity_type: str
    entity_id: str
    dt: str
    event_time: str | None = None
    log_group: str | None = None
    request_id: str | None = None
    log_event_id: str | None = None


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object named by an event notification."""

    bucket: str
    key: str
    etag: str = ""
    version_id: str = ""
    size: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the idempotency payload)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "size": self.size,
        }


def parse_notification(body: str) -> list[ObjectRef]:
    """The objects an S3 event notification names (``[]`` for ``s3:TestEvent`` and non-create events).

    Keys in notifications are URL-encoded with ``+`` for spaces, hence ``unquote_plus``.
    """
    try:
        message = codec.json_loads(body)
    except codec.DecodeError as exc:
        raise MirrorError(f"SQS body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise MirrorError("SQS body is not an S3 event notification")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise MirrorError("S3 event notification without Records")
    refs: list[ObjectRef] = []
    for record in records:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = obj.get("key")
        if not bucket or not key:
            raise MirrorError("S3 event record without bucket name or object key")
        refs.append(
            ObjectRef(
                bucket=bucket,
                key=unquote_plus(key),
                etag=str(obj.get("eTag") or ""),
                version_id=str(obj.get("versionId") or ""),
                size=int(obj.get("size") or 0),
            )
        )
    return refs


def event_time_ms(value: str) -> int:
    """RFC 3339 → milliseconds since the epoch (UTC when no offset is given)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def arrival_ms(dt: str, arrival: datetime) -> int:
    """The timestamp of a record without ``event_time``: ``arrival`` clamped into the day ``dt``."""
    day_start = datetime.fromisoformat(dt).replace(tzinfo=UTC)
    start = (day_start - _EPOCH) // _MS
    end = start + 24 * 3600 * 1000 - 1
    moment = arrival if arrival.tzinfo else arrival.replace(tzinfo=UTC)
    return min(max((moment - _EPOCH) // _MS, start), end)


def is_mirrored(log_group: str | None, prefixes: tuple[str, ...]) -> bool:
    """True when ``log_group`` is one of the mirror's own groups (exact name, or under a ``…/`` prefix)."""
    return bool(log_group) and any(
        log_group == p or (p.endswith("/") and str(log_group).startswith(p)) for p in prefixes
    )


@dataclass
class Destination:
    """The events of one object bound for one group and stream."""

    group: str
    stream: str
    tags: dict[str, str]
    events: list[LogEvent] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)


@dataclass
class MirrorTotals:
    """Counters over the life of the app (one container), for logs, metrics and tests."""

    messages: int = 0
    test_events: int = 0
    objects: int = 0
    objects_skipped: int = 0
    records: int = 0
    written: int = 0
    skipped_events: int = 0
    loop_guarded: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class Mirror:
    """The core: S3 object → records → per-entity log events, with idempotency hooks."""

    def __init__(
        self,
        router: Router,
        writer: LogsWriter,
        s3: Any | None = None,
        *,
        object_once: OnceRunner | None = None,
        batch_once: OnceRunner | None = None,
    ) -> None:
        self.router = router
        self.writer = writer
        self._s3 = s3
        self.mirrored = router.mirrored_prefixes()
        self.object_once = object_once
        self.batch_once = batch_once
        self.totals = MirrorTotals()

    @property
    def s3(self) -> Any:
        """The S3 client (created on first use; honours ``AWS_ENDPOINT_URL``)."""
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    # -- messages -------------------------------------------------------------------------------------
    def handle_message(self, body: str) -> dict[str, Any]:
        """Mirror every object one SQS message names; raises on the first object that fails."""
        self.totals.messages += 1
        refs = parse_notification(body)
        if not refs:
            self.totals.test_events += 1
        summaries = [self.mirror(ref) for ref in refs]
        return {"objects": summaries}

    def mirror(self, ref: ObjectRef) -> dict[str, Any]:
        """Mirror one object, at most once per ``(bucket, key, etag, version_id)`` when configured."""
        self.totals.objects += 1
        if self.object_once is None:
            return self.mirror_object(ref)
        ran = False

        def action() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return self.mirror_object(ref)

        summary = self.object_once(
            {"bucket": ref.bucket, "key": ref.key, "etag": ref.etag, "version_id": ref.version_id}, action
        )
        if not ran:
            self.totals.objects_skipped += 1
            logger.info("object already mirrored", extra={"bucket": ref.bucket, "key": ref.key})
        return summary

    # -- one object -------------------------------------------------------------------------------------
    def read_lines(self, ref: ObjectRef) -> tuple[Iterator[bytes], datetime]:
        """Stream the object's lines; also return its ``LastModified`` (the arrival time)."""
        kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            kwargs["VersionId"] = ref.version_id
        response = self.s3.get_object(**kwargs)
        arrival = response.get("LastModified") or datetime.now(UTC)
        body = response["Body"]
        return codec.iter_lines(body.iter_chunks(_CHUNK)), arrival

    def destinations(self, ref: ObjectRef) -> tuple[dict[tuple[str, str], Destination], int, int]:
        """Group an object's records by destination; returns (destinations, records, loop-guarded)."""
        lines, arrival = self.read_lines(ref)
        dests: dict[tuple[str, str], Destination] = {}
        records = guarded = 0
        for number, line in enumerate(lines, start=1):
            try:
                fields = codec.json_decode(line, _Fields)
                message = codec.utf8(line)
                ts = event_time_ms(fields.event_time) if fields.event_time else arrival_ms(fields.dt, arrival)
            except (codec.DecodeError, codec.CodecError, ValueError) as exc:
                raise MirrorError(
                    f"s3://{ref.bucket}/{ref.key} line {number}: not a spend record: {exc}"
                ) from exc
            records += 1
            if is_mirrored(fields.log_group, self.mirrored):
                guarded += 1
                logger.warning(
                    "loop guard: record comes from a mirrored group",
                    extra={"log_group": fields.log_group, "request_id": fields.request_id, "key": ref.key},
                )
                continue
            group = self.router.log_group_for(fields.entity_type, fields.entity_id)
            dest = dests.get((group, fields.dt))
            if dest is None:
                shared = group in (self.router.unattributed_log_group, self.router.invalid_log_group)
                tags = {
                    "entity_type": fields.entity_type,
                    "entity_id": "shared" if shared else fields.entity_id,
                    "managed-by": "bedrock-spend",
                }
                dest = dests[(group, fields.dt)] = Destination(group, fields.dt, tags)
            dest.events.append(LogEvent.of(ts, message))
            dest.ids.append(fields.request_id or fields.log_event_id)
        return dests, records, guarded

    def mirror_object(self, ref: ObjectRef) -> dict[str, Any]:
        """Read, route and write one object's records; return a JSON-able summary."""
        try:
            dests, records, guarded = self.destinations(ref)
        except codec.CodecError as exc:
            raise MirrorError(f"s3://{ref.bucket}/{ref.key}: {exc}") from exc
        scope = {"bucket": ref.bucket, "key": ref.key, "etag": ref.etag, "version_id": ref.version_id}
        results: list[WriteResult] = []
        for dest in dests.values():
            result = self.writer.write(
                dest.group, dest.stream, dest.events, dest.tags, once=self.batch_once, scope=scope
            )
            results.append(result)
            if result.rejected:
                self._report_rejected(dest, result)
        rejected: Counter[str] = Counter()
        for result in results:
            rejected.update(result.rejected_by_reason())
        written = sum(r.written for r in results)
        skipped = sum(r.skipped_events for r in results)
        summary: dict[str, Any] = {
            "bucket": ref.bucket,
            "key": ref.key,
            "records": records,
            "written": written,
            "skipped_events": skipped,
            "loop_guarded": guarded,
            "rejected": dict(rejected),
            "groups": sorted({r.group for r in results}),
            "put_calls": sum(r.calls for r in results),
        }
        self.totals.records += records
        self.totals.written += written
        self.totals.skipped_events += skipped
        self.totals.loop_guarded += guarded
        self.totals.rejected.update(rejected)
        self._publish(summary)
        return summary

    def _report_rejected(self, dest: Destination, result: WriteResult) -> None:
        index = {id(e): i for i, e in enumerate(dest.events)}
        for reason, count in sorted(result.rejected_by_reason().items()):
            ids = [
                dest.ids[index[id(r.event)]]
                for r in result.rejected
                if r.reason == reason and id(r.event) in index
            ]
            logger.warning(
                "log events rejected by CloudWatch Logs limits; the records stay in S3",
                extra={
                    "log_group": dest.group,
                    "log_stream": dest.stream,
                    "reason": reason,
                    "count": count,
                    "request_ids": ids[:_MAX_LOGGED_IDS],
                },
            )

    @staticmethod
    def _publish(summary: dict[str, Any]) -> None:
        logger.info("object mirrored", extra=summary)
        metrics.add_metric(name="MirroredRecords", unit=MetricUnit.Count, value=summary["records"])
        metrics.add_metric(name="MirroredEvents", unit=MetricUnit.Count, value=summary["written"])
        metrics.add_metric(name="MirrorLoopGuarded", unit=MetricUnit.Count, value=summary["loop_guarded"])
        metrics.add_metric(
            name="MirrorRejectedEvents", unit=MetricUnit.Count, value=sum(summary["rejected"].values())
        )
        metrics.add_metric(name="PutLogEventsCalls", unit=MetricUnit.Count, value=summary["put_calls"])


class MirrorApp:
    """Wiring: settings → router, writer, idempotency, batch processor. One per container."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: Any | None = None,
        logs: Any | None = None,
        dynamodb: Any | None = None,
        writer: LogsWriter | None = None,
    ) -> None:
        self.settings = settings
        router = load_router(settings.routing_file, settings.allowed_accounts)
        writer = writer or LogsWriter(
            logs,
            retention_days=settings.log_retention_days,
            max_attempts=settings.logs_max_attempts,
            base_delay=settings.logs_base_delay_seconds,
            max_delay=settings.logs_max_delay_seconds,
        )
        self._configs: list[Any] = []
        object_once = batch_once = None
        if settings.idempotency_table:
            object_once = self._once_runner("[bucket, key, etag, version_id]", dynamodb, "object")
            batch_once = self._once_runner(None, dynamodb, "batch")
        self.mirror = Mirror(router, writer, s3, object_once=object_once, batch_once=batch_once)
        self.processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def _once_runner(self, jmespath: str | None, dynamodb: Any | None, name: str) -> OnceRunner:
        """A Powertools-idempotent ``once(key, action)``; each layer has its own persistence instance
        (a persistence layer keeps the first configuration it is given)."""
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        config = IdempotencyConfig(
            event_key_jmespath=jmespath or "",
            expires_after_seconds=self.settings.idempotency_ttl_seconds,
            raise_on_no_idempotency_key=True,
        )
        self._configs.append(config)
        layer = DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto3_client=dynamodb)

        def run(key: dict[str, str], action: Any) -> dict[str, Any]:
            result: dict[str, Any] = action()
            return result

        run.__qualname__ = f"mirror_{name}_once"
        guarded = idempotent_function(data_keyword_argument="key", persistence_store=layer, config=config)(
            run
        )

        def once(key: dict[str, str], action: Any) -> dict[str, Any]:
            result: dict[str, Any] = guarded(key=key, action=action)
            return result

        return once

    def handle_record(self, record: SQSRecord) -> dict[str, Any]:
        """Record handler of the batch processor: one SQS message."""
        return self.mirror.handle_message(record.body)

    def handle(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        """Process one SQS batch; the response lists only the failed messages (``batchItemFailures``)."""
        for config in self._configs:
            if context is not None:
                config.register_lambda_context(context)
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self.processor, context=context
            )
        )
        failures = response.get("batchItemFailures") or []
        metrics.add_metric(name="MirrorFailedMessages", unit=MetricUnit.Count, value=len(failures))
        if failures:
            for exc_info in self.processor.exceptions:
                if exc_info is not None:
                    logger.warning("message failed", extra={"error": repr(exc_info[1])[:1000]})
        return response


@cache
def mirror_app() -> MirrorApp:
    """The execution environment's app, built on first use from the environment's settings."""
    return MirrorApp(Settings.from_env())


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Mirror the spend records of the S3 objects named by one SQS batch into per-entity log groups."""
    return mirror_app().handle(event, context)


__all__ = [
    "Mirror",
    "MirrorApp",
    "MirrorError",
    "MirrorTotals",
    "ObjectRef",
    "lambda_handler",
    "mirror_app",
    "parse_notification",
]
