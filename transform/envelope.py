"""Firehose record data → log events, for every shape Firehose can hand the transform.

Contract (https://docs.aws.amazon.com/firehose/latest/dev/writing-with-cloudwatch-logs.html):

1. gzip-compressed CloudWatch Logs subscription envelope ``{messageType, owner, logGroup, logStream,
   subscriptionFilters, logEvents:[{id, timestamp, message}]}`` (the default);
2. the same envelope un-gzipped (Firehose's *Decompression* processor on);
3. bare messages (Decompression + *message extraction* on), one per line;
4. a record this Lambda re-put itself (:data:`REPUT_MAGIC`, then a header line, then spend records).

``CONTROL_MESSAGE`` envelopes are health checks. Anything that cannot be decoded raises
:class:`~transform.codec.CodecError` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from transform import codec

_ENTITY_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ENTITY_ID = re.compile(r"(?!\.)(?!.*\.\.)[A-Za-z0-9._#-]{1,128}")
_DT = re.compile(r"\d{4}-\d{2}-\d{2}")
#: First bytes of a re-put record: neither JSON nor gzip can start this way.
REPUT_MAGIC = b"\x00bedrock-spend/reput/v1\n"


class LogEvent(msgspec.Struct, frozen=True):
    """One CloudWatch Logs event; ``id``/``timestamp`` are ``None`` for bare messages."""

    message: str
    id: str | None = None
    timestamp: int | None = None


class Envelope(msgspec.Struct, rename="camel", frozen=True):
    """A CloudWatch Logs subscription envelope."""

    message_type: str
    owner: str = ""
    log_group: str = ""
    log_stream: str = ""
    subscription_filters: list[str] = []
    log_events: list[LogEvent] = []


class _Probe(msgspec.Struct, rename="camel", frozen=True):
    message_type: str | None = None


class ReputHeader(msgspec.Struct, frozen=True):
    """Header of a re-put record: its one partition key, how often it was deferred, its line count."""

    pk: tuple[str, str, str]
    hops: int
    count: int


@dataclass(frozen=True)
class Decoded:
    """What one Firehose record contains."""

    kind: Literal["events", "control", "reput"]
    events: list[LogEvent] = field(default_factory=list)
    log_group: str = ""
    log_stream: str = ""
    owner: str = ""
    shape: str = ""
    reput: ReputHeader | None = None
    reput_body: bytes = b""


def encode_reput(pk: tuple[str, str, str], hops: int, lines: list[bytes]) -> bytes:
    """Build a re-put record from already-encoded spend-record lines (each ending in ``\\n``)."""
    header = codec.json_dumps(ReputHeader(pk=pk, hops=hops, count=len(lines)))
    return b"".join((REPUT_MAGIC, header, b"\n", *lines))


def _decode_reput(data: bytes) -> Decoded:
    rest = data[len(REPUT_MAGIC) :]
    header_line, sep, body = rest.partition(b"\n")
    try:
        header = codec.json_decode(header_line, ReputHeader)
    except (codec.DecodeError, codec.ValidationError, RecursionError) as exc:
        raise codec.CodecError(f"re-put record with a bad header: {exc}") from exc
    if not sep or body.count(b"\n") != header.count or (body and not body.endswith(b"\n")):
        raise codec.CodecError("re-put record body does not match its header's line count")
    etype, entity_id, dt = header.pk
    if not (_ENTITY_TYPE.fullmatch(etype) and _ENTITY_ID.fullmatch(entity_id) and _DT.fullmatch(dt)):
        # The key becomes an S3 prefix: never trust one that the transform could not have made.
        raise codec.CodecError("re-put record with an impossible partition key")
    return Decoded("reput", shape="reput", reput=header, reput_body=body)


def _from_envelope(envelope: Envelope, shape: str) -> Decoded:
    if envelope.message_type == "CONTROL_MESSAGE":
        return Decoded("control", shape=shape, log_group=envelope.log_group, owner=envelope.owner)
    if envelope.message_type != "DATA_MESSAGE":
        raise codec.CodecError(f"unknown messageType {envelope.message_type[:64]!r}")
    return Decoded(
        "events",
        events=envelope.log_events,
        log_group=envelope.log_group,
        log_stream=envelope.log_stream,
        owner=envelope.owner,
        shape=shape,
    )


_ENVELOPE = codec.decoder(Envelope)


def _envelope(data: bytes, shape: str) -> Decoded:
    try:
        return _from_envelope(_ENVELOPE.decode(data), shape)
    except (codec.DecodeError, codec.ValidationError, RecursionError) as exc:
        raise codec.CodecError(f"not a CloudWatch Logs envelope: {exc}") from exc


def decode_record(data: bytes) -> Decoded:
    """Classify and decode one record's (base64-decoded) data; raises :class:`codec.CodecError`."""
    if codec.is_gzip(data):
        return _envelope(codec.gunzip(data), "gzip-envelope")
    if data.startswith(REPUT_MAGIC):
        return _decode_reput(data)
    text = codec.utf8(data)
    stripped = text.strip()
    if not stripped:
        raise codec.CodecError("empty record")
    if stripped.startswith("{") and "\n" not in stripped:
        try:
            probe = codec.json_decode(stripped, _Probe)
        except (codec.DecodeError, codec.ValidationError, RecursionError):
            probe = _Probe()
        if probe.message_type is not None:
            return _envelope(data, "envelope")
    messages = [line for line in stripped.split("\n") if line.strip()]
    return Decoded("events", events=[LogEvent(message=m) for m in messages], shape="bare")
