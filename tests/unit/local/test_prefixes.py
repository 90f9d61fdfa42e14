"""Contract tests: Firehose prefix expressions (docs: firehose/latest/dev/s3-prefixes.html)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from infra.local.prefixes import (
    PrefixError,
    evaluate_prefix,
    java_format,
    object_suffix,
    partition_key_names,
    random_string,
    validate_prefix,
)

# 2024-03-05T07:08:09.123Z, a Tuesday
TS_MS = int(datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=UTC).timestamp() * 1000)
INSTANT = datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy", "2024"),
        ("yy", "24"),
        ("MM", "03"),
        ("M", "3"),
        ("MMM", "Mar"),
        ("MMMM", "March"),
        ("dd", "05"),
        ("HH", "07"),
        ("mm", "08"),
        ("ss", "09"),
        ("SSS", "123"),
        ("EEE", "Tue"),
        ("yyyy-MM-dd", "2024-03-05"),
        ("yyyy/MM/dd/HH", "2024/03/05/07"),
        ("'year='yyyy'/month='MM", "year=2024/month=03"),
        ("yyyy'T'HH", "2024T07"),
        ("''yyyy''", "'2024'"),
        ("'it''s' yyyy", "it's 2024"),
        ("DDD", "065"),
        ("hh a", "07 AM"),
    ],
)
def test_java_date_time_formatter_subset(pattern: str, expected: str) -> None:
    assert java_format(pattern, INSTANT) == expected


def test_unsupported_or_malformed_patterns_are_refused() -> None:
    with pytest.raises(PrefixError):
        java_format("yyyy-QQ", INSTANT)  # quarter: not supported
    with pytest.raises(PrefixError):
        java_format("'unterminated", INSTANT)


def test_timestamp_expressions_use_the_same_instant_in_utc() -> None:
    prefix = "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    assert evaluate_prefix(prefix, timestamp_ms=TS_MS) == "dt=2024-03-05/hour=07/"


def test_partition_key_from_lambda() -> None:
    prefix = "spend/entity_type=!{partitionKeyFromLambda:t}/entity_id=!{partitionKeyFromLambda:id}/"
    assert partition_key_names(prefix) == ["t", "id"]
    out = evaluate_prefix(prefix, timestamp_ms=TS_MS, partition_keys={"t": "tenant", "id": "acme"})
    assert out == "spend/entity_type=tenant/entity_id=acme/"


def test_missing_partition_key_fails_evaluation() -> None:
    with pytest.raises(PrefixError, match="missing"):
        evaluate_prefix("p/!{partitionKeyFromLambda:t}/", timestamp_ms=TS_MS, partition_keys={})


def test_random_string_is_eleven_characters() -> None:
    out = evaluate_prefix("r/!{firehose:random-string}/", timestamp_ms=TS_MS)
    assert re.fullmatch(r"r/[A-Za-z0-9]{11}/", out)
    assert len(random_string()) == 11


def test_error_output_type() -> None:
    prefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    validate_prefix(prefix, is_error_prefix=True)
    out = evaluate_prefix(prefix, timestamp_ms=TS_MS, error_output_type="processing-failed")
    assert out == "errors/processing-failed/2024/03/05/"


def test_partition_key_expressions_are_refused_in_error_output_prefix() -> None:
    with pytest.raises(PrefixError, match="not allowed in ErrorOutputPrefix"):
        validate_prefix("errors/!{partitionKeyFromLambda:t}/", is_error_prefix=True)
    with pytest.raises(PrefixError):
        validate_prefix("errors/!{partitionKeyFromQuery:t}/", is_error_prefix=True)


def test_error_output_type_is_refused_in_prefix_and_unknown_namespaces_everywhere() -> None:
    with pytest.raises(PrefixError):
        validate_prefix("p/!{firehose:error-output-type}/", is_error_prefix=False)
    with pytest.raises(PrefixError):
        validate_prefix("p/!{nope:x}/", is_error_prefix=False)
    with pytest.raises(PrefixError):
        validate_prefix("p/!{firehose:nope}/", is_error_prefix=False)


def test_evaluated_prefix_is_limited_to_512_characters() -> None:
    prefix = "p/!{partitionKeyFromLambda:k}/"
    assert len(evaluate_prefix(prefix, timestamp_ms=TS_MS, partition_keys={"k": "a" * 509})) == 512
    with pytest.raises(PrefixError, match="512"):
        evaluate_prefix(prefix, timestamp_ms=TS_MS, partition_keys={"k": "a" * 510})


def test_object_suffix_follows_firehose_name_format() -> None:
    out = object_suffix("spend", "1", TS_MS, "0b1c-uuid", ".gz")
    assert out == "spend-1-2024-03-05-07-08-09-0b1c-uuid.gz"
