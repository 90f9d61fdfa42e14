"""Firehose S3 prefix expressions: validation and evaluation.

Implements the ``!{namespace:value}`` expressions of Amazon Data Firehose custom S3 prefixes
(https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html) and the object-name suffix of
https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html:

- ``!{timestamp:<Java DateTimeFormatter pattern>}`` in UTC; every instance in one prefix evaluates to
  the same instant (the approximate arrival time of the oldest record in the object).
- ``!{firehose:random-string}`` -> an 11-character random string.
- ``!{firehose:error-output-type}`` -> ``processing-failed``, ``partitioning-failed``, ... (only in
  ``ErrorOutputPrefix``).
- ``!{partitionKeyFromLambda:key}`` -> the value of ``metadata.partitionKeys[key]`` returned by the
  transform Lambda (never allowed in ``ErrorOutputPrefix``).
- ``!{partitionKeyFromQuery:key}`` is recognised so that it can be refused: this engine has no jq.

An evaluated prefix must be at most 512 characters; a longer one is an evaluation failure.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_EVALUATED_PREFIX_CHARS = 512
RANDOM_STRING_LENGTH = 11
DEFAULT_PREFIX = "!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_ERROR_PREFIX = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"

_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_NAMESPACES = frozenset({"timestamp", "firehose", "partitionKeyFromLambda", "partitionKeyFromQuery"})
_FIREHOSE_VALUES = frozenset({"random-string", "error-output-type"})
_RANDOM_ALPHABET = string.ascii_letters + string.digits

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PrefixError(ValueError):
    """A prefix is invalid (configuration time) or cannot be evaluated for a record (run time)."""


@dataclass(frozen=True)
class Expression:
    """One ``!{namespace:value}`` occurrence in a prefix template."""

    namespace: str
    value: str


def parse_expressions(template: str) -> list[Expression]:
    """Return the expressions of ``template`` in order; unknown namespaces raise :class:`PrefixError`."""
    found: list[Expression] = []
    for match in _EXPRESSION.finditer(template):
        namespace, value = match.group(1), match.group(2)
        if namespace not in _NAMESPACES:
            raise PrefixError(f"unknown prefix namespace {namespace!r} in {template!r}")
        found.append(Expression(namespace, value))
    leftover = _EXPRESSION.sub("", template)
    if "!{" in leftover:
        raise PrefixError(f"malformed prefix expression in {template!r}")
    return found


def partition_key_names(template: str) -> list[str]:
    """Names used by ``!{partitionKeyFromLambda:name}`` in ``template``, first occurrence order."""
    names: list[str] = []
    for expr in parse_expressions(template):
        if expr.namespace == "partitionKeyFromLambda" and expr.value not in names:
            names.append(expr.value)
    return names


def validate_prefix(template: str, *, is_error_prefix: bool) -> None:
    """Refuse a configuration that Firehose refuses at CreateDeliveryStream time.

    - partition-key expressions are not allowed in ``ErrorOutputPrefix``;
    - ``!{firehose:error-output-type}`` is only meaningful in ``ErrorOutputPrefix``;
    - ``!{partitionKeyFromQuery:...}`` needs jq (inline parsing), which this engine does not emulate;
    - timestamp patterns must be valid (see :func:`java_format`).
    """
    for expr in parse_expressions(template):
        if expr.namespace.startswith("partitionKey"):
            if is_error_prefix:
                raise PrefixError(
                    f"partition-key expressions are not allowed in ErrorOutputPrefix: {template!r}"
                )
            if expr.namespace == "partitionKeyFromQuery":
                raise PrefixError("partitionKeyFromQuery (jq inline parsing) is not emulated")
            if not expr.value:
                raise PrefixError(f"empty partition key name in {template!r}")
        elif expr.namespace == "firehose":
            if expr.value not in _FIREHOSE_VALUES:
                raise PrefixError(f"unknown firehose namespace value {expr.value!r}")
            if expr.value == "error-output-type" and not is_error_prefix:
                raise PrefixError("!{firehose:error-output-type} is only allowed in ErrorOutputPrefix")
        else:  # timestamp
            java_format(expr.value, datetime(2000, 1, 1, tzinfo=UTC))


def random_string(length: int = RANDOM_STRING_LENGTH) -> str:
    """The value of ``!{firehose:random-string}``: 11 random alphanumeric characters."""
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(length))


def evaluate_prefix(
    template: str,
    *,
    timestamp_ms: int,
    partition_keys: Mapping[str, str] | None = None,
    error_output_type: str | None = None,
    random: Callable[[], str] = random_string,
) -> str:
    """Evaluate ``template`` for an object whose oldest record arrived at ``timestamp_ms`` (UTC).

    Raises :class:`PrefixError` when a partition key is missing (Firehose's ``partitioning-failed``)
    or the evaluated prefix exceeds 512 characters.
    """
    instant = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    keys = partition_keys or {}

    def substitute(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return java_format(value, instant)
        if namespace == "firehose":
            if value == "random-string":
                return random()
            if value == "error-output-type":
                if error_output_type is None:
                    raise PrefixError("!{firehose:error-output-type} outside an error output")
                return error_output_type
            raise PrefixError(f"unknown firehose namespace value {value!r}")
        if namespace == "partitionKeyFromLambda":
            if value not in keys:
                raise PrefixError(f"partition key {value!r} missing from the Lambda's metadata.partitionKeys")
            return str(keys[value])
        raise PrefixError(f"namespace {namespace!r} cannot be evaluated")

    evaluated = _EXPRESSION.sub(substitute, template)
    if len(evaluated) > MAX_EVALUATED_PREFIX_CHARS:
        raise PrefixError(
            f"evaluated prefix is {len(evaluated)} characters, more than {MAX_EVALUATED_PREFIX_CHARS}"
        )
    return evaluated


def object_suffix(stream_name: str, version: str, delivered_at_ms: int, uuid: str, extension: str) -> str:
    """``<stream name>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><file extension>`` (UTC)."""
    when = datetime.fromtimestamp(delivered_at_ms / 1000, tz=UTC)
    return f"{stream_name}-{version}-{when:%Y-%m-%d-%H-%M-%S}-{uuid}{extension}"


def java_format(pattern: str, instant: datetime) -> str:
    """Format ``instant`` with a subset of ``java.time.format.DateTimeFormatter`` pattern syntax.

    Supported letters: ``y``/``u`` (year; ``yy`` = two digits), ``M``/``L`` (month: 1-2 digits, 3 =
    short name, 4 = full name), ``d``, ``D`` (day of year), ``H``, ``h``, ``k``, ``K``, ``m``, ``s``,
    ``S`` (fraction of second), ``E`` (day name: 1-3 short, 4 full), ``a`` (AM/PM). ``'text'`` is a
    quoted literal and ``''`` a single quote; other non-letters are copied. Any other letter raises
    :class:`PrefixError` (Java reserves all ASCII letters). Reference:
    https://docs.oracle.com/javase/8/docs/api/java/time/format/DateTimeFormatter.html
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if pattern.startswith("''", i):
                out.append("'")
                i += 2
                continue
            j, literal = i + 1, []
            while True:
                if j >= n:
                    raise PrefixError(f"unterminated quoted literal in timestamp pattern {pattern!r}")
                if pattern[j] == "'":
                    if pattern.startswith("''", j):
                        literal.append("'")
                        j += 2
                        continue
                    break
                literal.append(pattern[j])
                j += 1
            out.append("".join(literal))
            i = j + 1
            continue
        if not ch.isascii() or not ch.isalpha():
            out.append(ch)
            i += 1
            continue
        j = i
        while j < n and pattern[j] == ch:
            j += 1
        out.append(_field(ch, j - i, instant, pattern))
        i = j
    return "".join(out)


def _num(value: int, width: int) -> str:
    return str(value).zfill(width)


def _field(letter: str, count: int, t: datetime, pattern: str) -> str:
    if letter in "yu":
        return _num(t.year % 100, 2) if count == 2 else _num(t.year, count)
    if letter in "ML":
        if count >= 4:
            return _MONTHS[t.month - 1]
        if count == 3:
            return _MONTHS[t.month - 1][:3]
        return _num(t.month, count)
    if letter == "d":
        return _num(t.day, count)
    if letter == "D":
        return _num(t.timetuple().tm_yday, count)
    if letter == "H":
        return _num(t.hour, count)
    if letter == "k":
        return _num(t.hour or 24, count)
    if letter == "K":
        return _num(t.hour % 12, count)
    if letter == "h":
        return _num(t.hour % 12 or 12, count)
    if letter == "m":
        return _num(t.minute, count)
    if letter == "s":
        return _num(t.second, count)
    if letter == "S":
        return f"{t.microsecond:06d}{'0' * 3}"[:count]
    if letter == "E":
        return _DAYS[t.weekday()] if count >= 4 else _DAYS[t.weekday()][:3]
    if letter == "a":
        return "AM" if t.hour < 12 else "PM"
    raise PrefixError(f"unsupported pattern letter {letter!r} in timestamp pattern {pattern!r}")
