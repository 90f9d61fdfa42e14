"""Bedrock model-invocation log event → typed :class:`InvocationLog`, validated.

Contract: the event is a JSON object with ``schemaType`` ``ModelInvocationLog``
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html). Required:
``timestamp`` (RFC 3339 with a zone), ``accountId`` (12 digits), ``identity.arn``, ``region``,
``requestId``, ``operation``, ``modelId``. Optional: ``inferenceRegion``, ``errorCode``,
``requestMetadata`` (string → string), ``input.{inputTokenCount, cacheReadInputTokenCount,
cacheWriteInputTokenCount, inputBodyS3Path}``, ``output.{outputTokenCount, outputBodyS3Path}``.
Token counts are integers in ``[0, 10^9]``. Prompt and response bodies (``inputBodyJson``,
``outputBodyJson``) are skipped by the decoder and never reach the output.

:func:`parse_invocation` raises :class:`InvalidEvent` with a human-readable reason for anything else.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec

from transform import codec

MAX_TOKENS = 1_000_000_000
TokenCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


_FAST_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")
_VALID_DAYS: dict[str, bool] = {}


class InvalidEvent(ValueError):
    """A log event that is not a valid Bedrock invocation log; the message is the reason."""


class Identity(msgspec.Struct, frozen=True):
    """``identity`` of the caller."""

    arn: ShortText


class InputPart(msgspec.Struct, rename="camel", frozen=True):
    """``input`` of the invocation (bodies skipped)."""

    input_token_count: TokenCount | None = None
    cache_read_input_token_count: TokenCount | None = None
    cache_write_input_token_count: TokenCount | None = None


class OutputPart(msgspec.Struct, rename="camel", frozen=True):
    """``output`` of the invocation (bodies skipped)."""

    output_token_count: TokenCount | None = None


class InvocationLog(msgspec.Struct, rename="camel", frozen=True):
    """The fields of a ``ModelInvocationLog`` that pricing and attribution need."""

    schema_type: str
    timestamp: ShortText
    account_id: ShortText
    identity: Identity
    region: ShortText
    request_id: ShortText
    operation: ShortText
    model_id: ShortText
    schema_version: str | None = None
    inference_region: str | None = None
    error_code: str | None = None
    request_metadata: dict[str, str] | None = None
    input: InputPart | None = None
    output: OutputPart | None = None


_DECODER = codec.decoder(InvocationLog)
#: Values already validated (bounded), so each regular expression runs once per distinct value.
_SEEN_ACCOUNTS: set[str] = set()
_SEEN_REGIONS: set[str] = set()


def _remember(seen: set[str], value: str) -> None:
    if len(seen) > 10_000:
        seen.clear()
    seen.add(value)


def _reason(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:500]


def _valid_day(day: str) -> bool:
    valid = _VALID_DAYS.get(day)
    if valid is None:
        try:
            valid = 2000 <= date.fromisoformat(day).year <= 2099
        except ValueError:
            valid = False
        if len(_VALID_DAYS) > 10_000:
            _VALID_DAYS.clear()
        _VALID_DAYS[day] = valid
    return valid


def parse_timestamp(text: str) -> tuple[str, str]:
    """``(event_time, dt)``: the timestamp normalised to UTC RFC 3339 (``…Z``) and its date.

    Raises :class:`InvalidEvent` unless ``text`` is RFC 3339 with a date, a time and a zone, in
    years 2000-2099. Bedrock's own form (``YYYY-MM-DDTHH:MM:SSZ``) takes a fast path.
    """
    if len(text) == 20 and _FAST_TIMESTAMP.fullmatch(text) is not None and _valid_day(text[:10]):
        return text, text[:10]
    if len(text) < 20 or text[10] not in "Tt":
        raise InvalidEvent(f"timestamp is not RFC 3339: {text[:64]!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidEvent(f"timestamp is not RFC 3339: {text[:64]!r}") from exc
    if moment.tzinfo is None:
        raise InvalidEvent(f"timestamp has no time zone: {text[:64]!r}")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-23:59 is past datetime.max in UTC
        raise InvalidEvent(f"timestamp out of range: {text[:64]!r}") from exc
    if not 2000 <= moment.year <= 2099:
        raise InvalidEvent(f"timestamp out of range: {text[:64]!r}")
    if moment.microsecond:
        event_time = moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    else:
        event_time = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event_time, event_time[:10]


def parse_invocation(message: str | bytes) -> InvocationLog:
    """Decode and validate one log message (see module contract)."""
    try:
        log = _DECODER.decode(message)
    except codec.ValidationError as exc:
        raise InvalidEvent(f"not a valid invocation log: {_reason(exc)}") from exc
    except codec.DecodeError as exc:
        raise InvalidEvent(f"not JSON: {_reason(exc)}") from exc
    except RecursionError as exc:  # msgspec recurses per nesting level, even in skipped bodies
        raise InvalidEvent("not a valid invocation log: JSON nested too deeply") from exc
    if log.schema_type != "ModelInvocationLog":
        raise InvalidEvent(f"schemaType is {log.schema_type[:64]!r}, not 'ModelInvocationLog'")
    if log.account_id not in _SEEN_ACCOUNTS:
        if not _ACCOUNT.fullmatch(log.account_id):
            raise InvalidEvent(f"accountId is not 12 digits: {log.account_id[:64]!r}")
        _remember(_SEEN_ACCOUNTS, log.account_id)
    if log.region not in _SEEN_REGIONS:
        if not _REGION.fullmatch(log.region):
            raise InvalidEvent(f"region is not an AWS region: {log.region[:64]!r}")
        _remember(_SEEN_REGIONS, log.region)
    if log.request_metadata is not None and len(log.request_metadata) > 16:
        raise InvalidEvent("requestMetadata has more than 16 entries")
    return log
