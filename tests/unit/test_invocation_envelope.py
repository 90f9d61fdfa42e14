"""Parsing Bedrock log events and decoding every Firehose record shape."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.builders import envelope, gz_envelope, invocation, load_event
from transform import codec
from transform.envelope import REPUT_MAGIC, decode_record, encode_reput
from transform.invocation import InvalidEvent, parse_invocation, parse_timestamp


@pytest.mark.parametrize(
    "name",
    [
        "bedrock-converse-stream",
        "bedrock-converse-cache-geo",
        "bedrock-invoke-embedding",
        "bedrock-stream-error",
        "bedrock-converse-global-offloaded",
        "bedrock-converse-application-profile",
    ],
)
def test_every_shipped_event_parses(name: str) -> None:
    log = parse_invocation(json.dumps(load_event(name)))
    assert log.schema_type == "ModelInvocationLog" and log.account_id == "123456789012"


def test_fields_are_read() -> None:
    log = parse_invocation(json.dumps(load_event("bedrock-converse-cache-geo")))
    assert log.input is not None and log.output is not None
    assert (log.input.input_token_count, log.input.cache_read_input_token_count) == (1200, 20000)
    assert log.input.cache_write_input_token_count == 3000 and log.output.output_token_count == 800
    assert log.inference_region == "us-west-2" and log.request_metadata == {
        "tenant": "globex",
        "feature": "chat",
    }
    embedding = parse_invocation(json.dumps(load_event("bedrock-invoke-embedding")))
    assert embedding.output is not None and embedding.output.output_token_count is None
    error = parse_invocation(json.dumps(load_event("bedrock-stream-error")))
    assert error.error_code == "ThrottlingException" and error.output is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schemaType": "Other"}, "schemaType"),
        ({"accountId": "12"}, "accountId"),
        ({"region": "../../x"}, "region"),
        ({"identity": {}}, "identity"),
        ({"timestamp": "yesterday"}, "RFC 3339"),
        ({"timestamp": "2025-03-11T00:38:02.000"}, "time zone"),
        ({"timestamp": "2025-03-11T00:38:02"}, "RFC 3339"),
        ({"timestamp": "1999-03-11T00:38:02Z"}, "out of range"),
        ({"input": {"inputTokenCount": -1}}, "inputTokenCount"),
        ({"input": {"inputTokenCount": 10**12}}, "inputTokenCount"),
        ({"input": {"inputTokenCount": "12"}}, "inputTokenCount"),
        ({"input": {"inputTokenCount": True}}, "inputTokenCount"),
        ({"requestMetadata": {"a": 1}}, "requestMetadata"),
        ({"requestMetadata": {str(i): "v" for i in range(17)}}, "16"),
    ],
)
def test_invalid_events_have_a_reason(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        log = parse_invocation(json.dumps(invocation(**changes)))
        parse_timestamp(log.timestamp)


def test_not_json_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_invocation('{"schemaType": "ModelInvo')


def test_timestamps_normalise_to_utc() -> None:
    assert parse_timestamp("2025-03-11T00:38:02Z") == ("2025-03-11T00:38:02Z", "2025-03-11")
    assert parse_timestamp("2025-03-11T01:38:02.120+01:00") == ("2025-03-11T00:38:02.12Z", "2025-03-11")
    assert parse_timestamp("2025-03-10T23:30:00-01:00")[1] == "2025-03-11"


def test_three_shapes_and_reput() -> None:
    message = json.dumps(invocation())
    gz = decode_record(gz_envelope([message, message]))
    plain = decode_record(json.dumps(envelope([message])).encode())
    bare = decode_record((message + "\n" + message + "\n").encode())
    assert (gz.kind, gz.shape, len(gz.events), gz.owner) == ("events", "gzip-envelope", 2, "123456789012")
    assert (plain.shape, len(plain.events)) == ("envelope", 1)
    assert (bare.shape, len(bare.events), bare.events[0].id) == ("bare", 2, None)
    reput = decode_record(encode_reput(("tenant", "acme", "2025-03-11"), 1, [b"{}\n", b"{}\n"]))
    assert reput.kind == "reput" and reput.reput is not None and reput.reput.hops == 1
    assert reput.reput_body == b"{}\n{}\n"


def test_control_message() -> None:
    data = gzip.compress(json.dumps(load_event("cwl-control-message")).encode())
    assert decode_record(data).kind == "control"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        (gzip.compress(b"not json"), "envelope"),
        (gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": 1}]}'), "envelope"),
        (gzip.compress(b'{"messageType": "SURPRISE"}'), "messageType"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b"   ", "empty"),
        (REPUT_MAGIC + b'{"pk":["a","b","c"],"hops":0,"count":3}\n{}\n', "line count"),
        (REPUT_MAGIC + b"nope\n", "header"),
        (REPUT_MAGIC + b'{"pk":["tenant","../../etc","2025-03-11"],"hops":0,"count":1}\n{}\n', "impossible"),
        (REPUT_MAGIC + b'{"pk":["tenant","a/b","2025-03-11"],"hops":0,"count":1}\n{}\n', "impossible"),
        (REPUT_MAGIC + b'{"pk":["Tenant X","a","2025-03-11"],"hops":0,"count":1}\n{}\n', "impossible"),
    ],
)
def test_undecodable(data: bytes, reason: str) -> None:
    with pytest.raises(codec.CodecError, match=reason):
        decode_record(data)
