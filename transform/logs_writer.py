"""Adapter: write log events to CloudWatch Logs — the only module of the mirror that calls that service.

Contracts (AWS CloudWatch Logs API reference):

* ``CreateLogGroup`` (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html):
  names are 1-512 characters of ``[.\\-_/#A-Za-z0-9]`` and must not start with ``aws/``; ``tags`` may be
  given at creation. ``ResourceAlreadyExistsException`` means another writer won the race: normal.
  Tag values allow ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`` only
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TagResource.html), so the
  ``#`` of an entity id is written as ``:`` in the ``entity_id`` tag (``:`` never occurs in an entity
  id, so the mapping stays injective).
* ``PutRetentionPolicy`` (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)
  is called once per group and container, also when the group already existed (idempotent; it repairs a
  group whose creator died between the two calls).
* ``PutLogEvents`` (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
  a batch is at most 1,048,576 bytes counted as the UTF-8 bytes of every message plus 26 bytes per event,
  at most 10,000 events, in chronological order, spanning at most 24 hours. Events more than 2 hours in
  the future, older than 14 days, or older than the group's retention are rejected *individually*
  while the rest are stored; the response's ``rejectedLogEventsInfo``
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_RejectedLogEventsInfo.html)
  gives ``tooNewLogEventStartIndex`` (inclusive), ``tooOldLogEventEndIndex`` (exclusive) and
  ``expiredLogEventEndIndex``. One event is at most 256 KiB (the long-standing per-event quota in
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html; we keep to it).

What this module guarantees:

* :func:`pack` splits chronologically sorted events greedily; because every limit is monotone (a
  sub-range of a valid batch is valid), greedy gives the fewest contiguous batches, and it can lose at
  most one event's worth of bytes per batch against any other packing.
* Events that AWS would reject are screened out *before* the call (:func:`screen`), and whatever AWS still
  rejects (clock skew) is read from ``rejectedLogEventsInfo``: both end up in :attr:`WriteResult.rejected`
  with a reason — never silently lost.
* Throttling and service errors are retried with exponential backoff and full jitter, bounded by
  ``max_attempts``; after that :class:`LogsWriteError` is raised (the caller fails the message so SQS
  redelivers it, and idempotency skips what was already written).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_EVENTS = 10_000
#: A batch must span *less* than this (the API says "cannot span more than 24 hours"; we never test the
#: boundary itself).
MAX_SPAN_MS = 24 * 3600 * 1000
MAX_EVENT_BYTES = 256 * 1024
MAX_AGE_MS = 14 * 24 * 3600 * 1000
MAX_FUTURE_MS = 2 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000

_GROUP_RE = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_STREAM_RE = re.compile(r"[^:*]{1,512}")
_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "RequestLimitExceeded",
        "OperationAbortedException",
        "RequestTimeout",
    }
)

#: ``once(key, action)`` runs ``action`` unless a call with the same key already completed, in which case
#: it returns the stored result (see :mod:`transform.mirror` for the Powertools-backed implementation).
OnceRunner = Callable[[dict[str, str], Callable[[], dict[str, Any]]], dict[str, Any]]


class LogsWriteError(RuntimeError):
    """A CloudWatch Logs call failed for good (non-retryable error or attempts exhausted)."""


def validate_log_group_name(name: str) -> str:
    """Return ``name`` if CloudWatch Logs accepts it as a log-group name, else raise ``ValueError``."""
    if not _GROUP_RE.fullmatch(name) or name.startswith("aws/"):
        raise ValueError(f"invalid log-group name {name!r}: need 1-512 of [.-_/#A-Za-z0-9], not 'aws/…'")
    return name


def validate_log_stream_name(name: str) -> str:
    """Return ``name`` if it is a valid log-stream name (1-512 characters, no ``:`` or ``*``)."""
    if not _STREAM_RE.fullmatch(name):
        raise ValueError(f"invalid log-stream name {name!r}")
    return name


def tag_value(text: str) -> str:
    """An entity id as a tag value: ``#`` (not allowed in tags) becomes ``:`` (never in an entity id)."""
    return text.replace("#", ":")[:256]


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log event; ``size`` is what it costs in a batch (UTF-8 bytes of the message + 26)."""

    timestamp: int
    message: str
    size: int

    @classmethod
    def of(cls, timestamp: int, message: str) -> LogEvent:
        """Build an event, measuring its batch size."""
        return cls(timestamp, message, len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event that was not stored, and why (``too_old``, ``too_new``, ``expired``, ``too_large``)."""

    event: LogEvent
    reason: str


@dataclass
class WriteResult:
    """What one :meth:`LogsWriter.write` did for one log stream."""

    group: str
    stream: str
    written: int = 0
    batches: int = 0
    calls: int = 0
    skipped_batches: int = 0
    skipped_events: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def rejected_by_reason(self) -> Counter[str]:
        """Rejected events counted per reason."""
        return Counter(r.reason for r in self.rejected)


def screen(
    events: Iterable[LogEvent], now_ms: int, retention_days: int | None = None
) -> tuple[list[LogEvent], list[Rejected]]:
    """Split events into those PutLogEvents can accept and those it would reject (with the reason)."""
    oldest = now_ms - MAX_AGE_MS
    retention_oldest = now_ms - retention_days * DAY_MS if retention_days else oldest
    newest = now_ms + MAX_FUTURE_MS
    ok: list[LogEvent] = []
    rejected: list[Rejected] = []
    for event in events:
        if event.size > MAX_EVENT_BYTES:
            rejected.append(Rejected(event, "too_large"))
        elif event.timestamp < oldest:
            rejected.append(Rejected(event, "too_old"))
        elif event.timestamp < retention_oldest:
            rejected.append(Rejected(event, "expired"))
        elif event.timestamp > newest:
            rejected.append(Rejected(event, "too_new"))
        else:
            ok.append(event)
    return ok, rejected


def pack(events: Iterable[LogEvent]) -> list[list[LogEvent]]:
    """Sort events chronologically (stable) and split them greedily into valid PutLogEvents batches.

    Raises ``ValueError`` for an event larger than :data:`MAX_EVENT_BYTES` (screen those out first).
    """
    batches: list[list[LogEvent]] = []
    batch: list[LogEvent] = []
    size = 0
    first_ts = 0
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.size > MAX_EVENT_BYTES:
            raise ValueError(f"log event of {event.size} bytes exceeds {MAX_EVENT_BYTES}")
        if batch and (
            len(batch) >= MAX_BATCH_EVENTS
            or size + event.size > MAX_BATCH_BYTES
            or event.timestamp - first_ts >= MAX_SPAN_MS
        ):
            batches.append(batch)
            batch, size = [], 0
        if not batch:
            first_ts = event.timestamp
        batch.append(event)
        size += event.size
    if batch:
        batches.append(batch)
    return batches


def min_calls(events: Sequence[LogEvent]) -> int:
    """A lower bound on the PutLogEvents calls any packing needs for ``events`` in one stream.

    The largest of: total bytes / 1 MiB, events / 10,000, and the number of disjoint < 24 h windows
    needed to cover the timestamps (greedy interval cover, which is exact for that constraint alone).
    """
    if not events:
        return 0
    total = sum(e.size for e in events)
    by_bytes = -(-total // MAX_BATCH_BYTES)
    by_count = -(-len(events) // MAX_BATCH_EVENTS)
    windows = 0
    start: int | None = None
    for ts in sorted(e.timestamp for e in events):
        if start is None or ts - start >= MAX_SPAN_MS:
            windows += 1
            start = ts
    return max(by_bytes, by_count, windows)


def batch_digest(batch: Sequence[LogEvent]) -> str:
    """SHA-256 over the batch's timestamps and messages: the same content gives the same digest."""
    digest = hashlib.sha256()
    for event in batch:
        digest.update(b"%d\x00" % event.timestamp)
        digest.update(event.message.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def logs_client(region: str | None = None) -> Any:
    """A boto3 CloudWatch Logs client with bounded timeouts; the endpoint honours ``AWS_ENDPOINT_URL``
    and ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=15)
    return boto3.client("logs", region_name=region or None, config=config)


class LogsWriter:
    """Creates groups/streams on first use and writes events in as few PutLogEvents calls as possible.

    The client is passed in (or created lazily on first use). Groups and streams known to exist are
    remembered for the life of the container.
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        retention_days: int = 30,
        max_attempts: int = 6,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        region: str | None = None,
    ) -> None:
        self._client = client
        self.retention_days = retention_days
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock
        self.sleep = sleep
        self.region = region
        self.known_groups: set[str] = set()
        self.known_streams: set[tuple[str, str]] = set()
        self.calls: Counter[str] = Counter()
        self.retries = 0

    @property
    def client(self) -> Any:
        """The CloudWatch Logs client (created on first use)."""
        if self._client is None:
            self._client = logs_client(self.region)
        return self._client

    # -- calls with retry ---------------------------------------------------------------------------
    def _call(self, operation: str, ok_codes: frozenset[str] = frozenset(), **kwargs: Any) -> dict[str, Any]:
        """Call ``operation``; retry throttling/service errors; return ``{}`` for an ``ok_codes`` error."""
        last = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self.retries += 1
                cap = min(self.max_delay, self.base_delay * (2**attempt))
                self.sleep(random.uniform(0, cap))  # full jitter
            self.calls[operation] += 1
            try:
                response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
                return response
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ok_codes:
                    return {}
                if code not in _RETRYABLE:
                    raise LogsWriteError(f"{operation} failed: {code}: {exc}") from exc
                last = code
        raise LogsWriteError(f"{operation} still failing after {self.max_attempts} attempts: {last}")

    # -- groups and streams -------------------------------------------------------------------------
    def ensure_group(self, group: str, tags: Mapping[str, str]) -> None:
        """Create ``group`` with ``tags`` and the retention policy, once per container."""
        if group in self.known_groups:
            return
        validate_log_group_name(group)
        self._call(
            "create_log_group",
            frozenset({"ResourceAlreadyExistsException"}),
            logGroupName=group,
            tags={k: tag_value(v) for k, v in tags.items()},
        )
        self._call("put_retention_policy", logGroupName=group, retentionInDays=self.retention_days)
        self.known_groups.add(group)

    def ensure_stream(self, group: str, stream: str) -> None:
        """Create ``stream`` in ``group`` once per container."""
        if (group, stream) in self.known_streams:
            return
        validate_log_stream_name(stream)
        self._call(
            "create_log_stream",
            frozenset({"ResourceAlreadyExistsException"}),
            logGroupName=group,
            logStreamName=stream,
        )
        self.known_streams.add((group, stream))

    # -- writing ------------------------------------------------------------------------------------
    def write(
        self,
        group: str,
        stream: str,
        events: Iterable[LogEvent],
        tags: Mapping[str, str],
        *,
        once: OnceRunner | None = None,
        scope: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Write ``events`` to ``group``/``stream`` (created on first use) in the fewest calls.

        With ``once``, every batch runs under the key ``scope + {group, stream, digest}``: a batch
        already written (by an earlier, interrupted attempt) is skipped, not written twice.
        """
        result = WriteResult(group, stream)
        now_ms = int(self.clock() * 1000)
        accepted, result.rejected = screen(events, now_ms, self.retention_days)
        batches = pack(accepted)
        if not batches:
            return result
        self.ensure_group(group, tags)
        self.ensure_stream(group, stream)
        for batch in batches:
            result.batches += 1
            ran = False

            def action(batch: list[LogEvent] = batch) -> dict[str, Any]:
                nonlocal ran
                ran = True
                return self._put_batch(group, stream, batch)

            if once is None:
                outcome = action()
            else:
                key = {**(scope or {}), "group": group, "stream": stream, "digest": batch_digest(batch)}
                outcome = once(key, action)
            rejected = [Rejected(batch[i], reason) for i, reason in outcome["rejected"]]
            result.rejected.extend(rejected)
            if ran:
                result.calls += int(outcome["calls"])
                result.written += len(batch) - len(rejected)
            else:
                result.skipped_batches += 1
                result.skipped_events += len(batch) - len(rejected)
        return result

    def _put_batch(self, group: str, stream: str, batch: list[LogEvent]) -> dict[str, Any]:
        """One PutLogEvents (re-creating a group/stream deleted behind our back, once)."""
        assert len(batch) <= MAX_BATCH_EVENTS
        assert sum(e.size for e in batch) <= MAX_BATCH_BYTES
        assert batch[-1].timestamp - batch[0].timestamp < MAX_SPAN_MS
        log_events = [{"timestamp": e.timestamp, "message": e.message} for e in batch]
        before = self.calls["put_log_events"]
        try:
            response = self._call(
                "put_log_events", logGroupName=group, logStreamName=stream, logEvents=log_events
            )
        except LogsWriteError as exc:
            if "ResourceNotFoundException" not in str(exc):
                raise
            self.known_groups.discard(group)
            self.known_streams.discard((group, stream))
            raise LogsWriteError(f"{group}/{stream} disappeared; it is re-created on redelivery") from exc
        rejected = _rejected_indexes(response.get("rejectedLogEventsInfo") or {}, len(batch))
        return {"calls": self.calls["put_log_events"] - before, "rejected": rejected}


def _rejected_indexes(info: Mapping[str, Any], count: int) -> list[tuple[int, str]]:
    """``(index, reason)`` of every event ``rejectedLogEventsInfo`` names (see module docstring)."""
    reasons: dict[int, str] = {}
    too_new = info.get("tooNewLogEventStartIndex")
    if isinstance(too_new, int):
        reasons.update(dict.fromkeys(range(max(too_new, 0), count), "too_new"))
    expired = info.get("expiredLogEventEndIndex")
    if isinstance(expired, int):
        reasons.update(dict.fromkeys(range(min(expired, count)), "expired"))
    too_old = info.get("tooOldLogEventEndIndex")
    if isinstance(too_old, int):
        reasons.update(dict.fromkeys(range(min(too_old, count)), "too_old"))
    return sorted(reasons.items())
