"""Regression tests for bugs the fuzz suite (tests/fuzz) found in the transform."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest

from tests.builders import envelope, firehose_event, invocation
from transform import codec
from transform.envelope import decode_record
from transform.pricing import Catalogue
from transform.process import Transformer
from transform.routing import Router, parse_principal


def _gzip_with_a_bad_deflate_block() -> bytes:
    data = bytearray(gzip.compress(json.dumps(envelope([json.dumps(invocation())])).encode()))
    data[10] ^= 0xFF  # first byte of the deflate stream: an invalid block type
    return bytes(data)


def test_a_corrupt_deflate_block_is_a_codec_error() -> None:
    # Given gzip whose deflate stream is corrupt (ISA-L raises its own IsalError, not an OSError)
    data = _gzip_with_a_bad_deflate_block()
    # Then decoding reports it like any other undecodable record
    with pytest.raises(codec.CodecError, match="corrupt gzip"):
        decode_record(data)


def test_a_corrupt_deflate_block_fails_only_its_record(router: Router, catalogue: Catalogue) -> None:
    good = gzip.compress(json.dumps(envelope([json.dumps(invocation())])).encode())
    outcome = Transformer(router, catalogue).process(firehose_event([_gzip_with_a_bad_deflate_block(), good]))
    assert [r.result for r in outcome.records] == ["ProcessingFailed", "Ok"]
    assert base64.b64decode(outcome.response()["records"][1]["data"])


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_beyond_the_datetime_range_in_utc_is_invalid(
    router: Router, catalogue: Catalogue, timestamp: str
) -> None:
    # Given a timestamp whose UTC conversion overflows datetime (OverflowError, not ValueError)
    message = json.dumps(invocation(timestamp=timestamp))
    data = gzip.compress(json.dumps(envelope([message])).encode())
    # When transformed
    outcome = Transformer(router, catalogue).process(firehose_event([data]))
    # Then the event is kept as an invalid record with the reason, and the invocation does not raise
    (line,) = base64.b64decode(outcome.response()["records"][0]["data"]).splitlines()
    record = json.loads(line)
    assert record["entity_type"] == "invalid" and "out of range" in record["invalid_reason"]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_body_is_an_invalid_event_not_a_crash(router: Router, catalogue: Catalogue) -> None:
    # Given an invocation whose (caller-chosen) body nests deeper than the interpreter's recursion
    # limit, next to a normal invocation in the same record
    deep = json.dumps(invocation(requestId="deep"))[:-1] + f', "inputBodyJsonNested": {_nested(5_000)}}}'
    normal = json.dumps(invocation(requestId="normal"))
    data = gzip.compress(json.dumps(envelope([deep, normal])).encode())
    # When transformed
    outcome = Transformer(router, catalogue).process(firehose_event([data]))
    # Then the deep one is an invalid record with the reason and the other is priced as usual
    lines = [json.loads(x) for x in base64.b64decode(outcome.response()["records"][0]["data"]).splitlines()]
    lines += [json.loads(x) for p in outcome.reputs for x in decode_record(p).reput_body.splitlines()]
    by_id = {r["log_event_id"]: r for r in lines}
    assert by_id["0"]["entity_type"] == "invalid" and "nested too deeply" in by_id["0"]["invalid_reason"]
    assert by_id["1"]["request_id"] == "normal" and by_id["1"]["entity_type"] != "invalid"


@pytest.mark.parametrize("shape", ["envelope", "bare"])
def test_a_deeply_nested_record_is_undecodable_or_invalid_not_a_crash(
    router: Router, catalogue: Catalogue, shape: str
) -> None:
    if shape == "envelope":  # a gzip envelope with an unknown field nesting too deep: undecodable
        data = gzip.compress(json.dumps(envelope([]))[:-1].encode() + f', "x": {_nested(5_000)}}}'.encode())
        expected = "ProcessingFailed"
    else:  # one bare message nesting too deep: an invalid event
        data = ("{" + f'"a": {_nested(5_000)}' + "}").encode()
        expected = "Ok"
    outcome = Transformer(router, catalogue).process(firehose_event([data]))
    assert [r.result for r in outcome.records] == [expected]


@pytest.mark.parametrize(
    ("resource", "kind", "field", "value"),
    [
        ("user/" + "a/" * 40 + "!", "unknown", None, None),
        ("role/" + "../" * 40 + "%", "unknown", None, None),
        ("user/division/dev/jane", "user", "user_path", "/division/dev/"),
        ("user/a//b/jane", "user", "user_path", "/a//b/"),
        ("user/jane", "user", "user_name", "jane"),
        ("role/service-role/x", "role", "role_path", "/service-role/"),
    ],
)
def test_iam_paths_parse_in_linear_time(
    resource: str, kind: str, field: str | None, value: str | None
) -> None:
    # Given an IAM principal whose path has many segments and that does not match (before the fix the
    # path pattern backtracked exponentially: 40 segments took longer than any Lambda timeout)
    started = time.perf_counter()
    principal = parse_principal(f"arn:aws:iam::123456789012:{resource}")
    # Then it is parsed at once, with the same fields as before
    assert time.perf_counter() - started < 0.5
    assert principal.kind == kind
    if field is not None:
        assert principal.fields[field] == value
