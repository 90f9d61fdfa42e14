"""Regression tests for bugs the fuzz suite (tests/fuzz) found in the transform."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.builders import envelope, firehose_event, invocation
from transform import codec
from transform.envelope import decode_record
from transform.pricing import Catalogue
from transform.process import Transformer
from transform.routing import Router


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
