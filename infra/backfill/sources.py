"""Where historical Bedrock invocation logs are read from, one *page* at a time.

* :class:`LogGroupSource` — the Bedrock log group, with ``FilterLogEvents`` over ``[start, end)``
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html),
  paginated by ``nextToken``; one API page = one backfill page. A page token is only valid for a
  while (CloudWatch Logs lets it expire after 24 hours), so the position also keeps the newest event
  timestamp seen: a resume whose token is rejected starts again from that timestamp (the overlap is
  re-sent; request ids de-duplicate downstream).
* :class:`S3Source` — Bedrock's S3 log delivery: gzip JSON-lines objects under
  ``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/…``
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html). Objects are
  listed in key order (``ListObjectsV2`` returns keys in UTF-8 binary order), one object = one page,
  and a resume continues with ``StartAfter`` = the last finished key.

A page carries the events as CloudWatch Logs would hand them to a subscription (``id``,
``timestamp``, ``message``, log stream), the account that owns them (the envelope's ``owner``, which
the transform's routing relies on), a deterministic ``page_id`` (same source, same window, same
position → same id, so direct writes overwrite on a re-run) and the position to resume *after* it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from transform import codec

#: ``.../AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<file>``
S3_KEY_RE = re.compile(
    r"(?:^|/)AWSLogs/(?P<account>\d{12})/BedrockModelInvocationLogs/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/[^/]+$"
)
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class SourceEvent:
    """One invocation log event, shaped like a CloudWatch Logs subscription ``logEvents`` item."""

    id: str
    timestamp: int
    message: str


@dataclass(frozen=True)
class Page:
    """A unit of work: events of one log stream (or one S3 object) and where to resume after it."""

    page_id: str
    owner: str
    log_group: str
    log_stream: str
    events: list[SourceEvent]
    position: dict[str, Any]
    #: how far the source has got, in the units of :attr:`Source.total` (for the progress bar / ETA)
    progress: int = 0
    #: further (log stream) groups of the same page, when one API page spans several streams
    more: list[tuple[str, list[SourceEvent]]] = field(default_factory=list)

    def streams(self) -> list[tuple[str, list[SourceEvent]]]:
        """``(log stream, events)`` of every stream in this page."""
        first = [(self.log_stream, self.events)] if self.events else []
        return first + [m for m in self.more if m[1]]

    @property
    def event_count(self) -> int:
        """Events in the page, every stream counted."""
        return sum(len(events) for _, events in self.streams())


class Source(Protocol):
    """What the backfill runner needs from a source."""

    #: Units of progress the whole run covers (``None``: unknown).
    total: int | None

    def identity(self) -> dict[str, Any]:
        """What makes a checkpoint belong to this source (compared on resume)."""
        ...

    def pages(self, position: Mapping[str, Any] | None) -> Iterator[Page]:
        """Pages from ``position`` (``None``: the beginning) to the end."""
        ...


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 date-time (naive = UTC) → aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(value.timestamp() * 1000)


class LogGroupSource:
    """``FilterLogEvents`` pages of one log group over ``[start_ms, end_ms)``."""

    def __init__(
        self,
        logs: Any,
        log_group: str,
        start_ms: int,
        end_ms: int,
        *,
        filter_pattern: str = "",
        page_size: int = 10_000,
        owner: str | None = None,
        sts: Any | None = None,
    ) -> None:
        if end_ms <= start_ms:
            raise ValueError("the end of the window must be after its start")
        self.logs = logs
        self.log_group = log_group
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.filter_pattern = filter_pattern
        self.page_size = page_size
        self._owner = owner
        self._sts = sts
        self.total: int | None = end_ms - start_ms
        self.token_restarts = 0

    def identity(self) -> dict[str, Any]:
        return {
            "kind": "log-group",
            "log_group": self.log_group,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "filter_pattern": self.filter_pattern,
        }

    @property
    def owner(self) -> str:
        """The account owning the log group (from its ARN; else the caller's account)."""
        if self._owner is None:
            groups = self.logs.describe_log_groups(logGroupNamePrefix=self.log_group).get("logGroups", [])
            arn = next((g.get("arn", "") for g in groups if g.get("logGroupName") == self.log_group), "")
            account = arn.split(":")[4] if arn.count(":") >= 5 else ""
            if not account and self._sts is not None:
                account = str(self._sts.get_caller_identity()["Account"])
            self._owner = account
        return self._owner

    def _call(self, start_ms: int, token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "logGroupName": self.log_group,
            "startTime": start_ms,
            "endTime": self.end_ms - 1,  # FilterLogEvents' endTime is inclusive
            "limit": self.page_size,
        }
        if self.filter_pattern:
            kwargs["filterPattern"] = self.filter_pattern
        if token:
            kwargs["nextToken"] = token
        response: dict[str, Any] = self.logs.filter_log_events(**kwargs)
        return response

    def pages(self, position: Mapping[str, Any] | None) -> Iterator[Page]:
        start_ms = self.start_ms
        token: str | None = None
        if position:
            token = position.get("next_token")
            start_ms = int(position.get("last_timestamp", start_ms))
            if not token:
                return  # the previous run finished
        while True:
            try:
                response = self._call(start_ms, token)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if not token or code != "InvalidParameterException":
                    raise
                # An expired page token: restart at the newest timestamp already sent.
                self.token_restarts += 1
                token = None
                continue
            events = response.get("events", [])
            next_token = response.get("nextToken")
            if next_token == token:
                next_token = None
            by_stream: dict[str, list[SourceEvent]] = {}
            newest = start_ms
            for ev in events:
                ts = int(ev["timestamp"])
                newest = max(newest, ts)
                by_stream.setdefault(str(ev.get("logStreamName", "")), []).append(
                    SourceEvent(str(ev["eventId"]), ts, str(ev["message"]))
                )
            groups = sorted(by_stream.items())
            first_stream, first_events = groups[0] if groups else ("", [])
            yield Page(
                # From the page's content, not its token (tokens need not repeat across runs):
                # the same events in the same page give the same id, so direct writes overwrite.
                page_id=_digest(
                    self.log_group,
                    len(events),
                    events[0]["eventId"] if events else start_ms,
                    events[-1]["eventId"] if events else token,
                ),
                owner=self.owner,
                log_group=self.log_group,
                log_stream=first_stream,
                events=first_events,
                more=groups[1:],
                position={"next_token": next_token, "last_timestamp": newest},
                progress=min(newest, self.end_ms) - self.start_ms,
            )
            if not next_token:
                return
            token = next_token


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """Parse ``s3://bucket[/prefix]``; raises ``ValueError``."""
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, prefix = uri[5:].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}")
        return cls(bucket, prefix)


def key_hour_ms(key: str) -> int | None:
    """The delivery hour (ms) encoded in a Bedrock S3 log key, or ``None`` if it is not one."""
    match = S3_KEY_RE.search(key)
    if not match:
        return None
    hour = datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["h"]), tzinfo=UTC)
    return to_ms(hour)


class S3Source:
    """Bedrock's S3 invocation-log objects under ``s3://bucket/prefix``, in key order."""

    def __init__(
        self,
        s3: Any,
        location: S3Location,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        chunk_bytes: int = 1024 * 1024,
    ) -> None:
        self.s3 = s3
        self.location = location
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.chunk_bytes = chunk_bytes
        self.total: int | None = None
        self.skipped_keys = 0

    def identity(self) -> dict[str, Any]:
        return {
            "kind": "s3",
            "uri": f"s3://{self.location.bucket}/{self.location.prefix}",
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }

    def _wanted(self, key: str) -> bool:
        hour = key_hour_ms(key)
        if hour is None:
            return False
        # Objects of an hour may hold events up to an hour before/after their folder: keep neighbours,
        # the events themselves are filtered by timestamp.
        if self.start_ms is not None and hour + 2 * _HOUR_MS <= self.start_ms:
            return False
        return not (self.end_ms is not None and hour - _HOUR_MS >= self.end_ms)

    def _in_window(self, ts: int) -> bool:
        return (self.start_ms is None or ts >= self.start_ms) and (self.end_ms is None or ts < self.end_ms)

    def keys(self, start_after: str | None) -> list[str]:
        """Every wanted key after ``start_after``, in key order."""
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": self.location.prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if self._wanted(key):
                    found.append(key)
                else:
                    self.skipped_keys += 1
        return found

    def _events(self, key: str) -> list[SourceEvent]:
        body = self.s3.get_object(Bucket=self.location.bucket, Key=key)["Body"]
        chunks = iter(lambda: body.read(self.chunk_bytes), b"")
        name = _digest(self.location.bucket, key)[:16]
        events: list[SourceEvent] = []
        for n, line in enumerate(codec.iter_lines(chunks)):
            message = codec.utf8(line)
            ts = _event_ms(message)
            if ts is not None and not self._in_window(ts):
                continue
            events.append(SourceEvent(f"s3-{name}-{n:08d}", ts if ts is not None else 0, message))
        return events

    def pages(self, position: Mapping[str, Any] | None) -> Iterator[Page]:
        start_after = str(position["last_key"]) if position and position.get("last_key") else None
        keys = self.keys(start_after)
        done = int(position.get("objects_done", 0)) if position else 0
        self.total = done + len(keys)
        for i, key in enumerate(keys, start=1):
            match = S3_KEY_RE.search(key)
            owner = match["account"] if match else ""
            yield Page(
                page_id=_digest("s3", self.location.bucket, key),
                owner=owner,
                log_group=f"s3://{self.location.bucket}",
                log_stream=key,
                events=self._events(key),
                position={"last_key": key, "objects_done": done + i},
                progress=done + i,
            )


_TIMESTAMP = re.compile(r'"timestamp"\s*:\s*"([^"]+)"')


def _event_ms(message: str) -> int | None:
    """The invocation's own timestamp (ms), read without parsing the (possibly large) body."""
    match = _TIMESTAMP.search(message)
    if not match:
        return None
    try:
        return to_ms(parse_time(match.group(1)))
    except ValueError:
        return None
