"""Contract tests: the local Firehose engine against the documented Firehose transformation contract."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from infra.local.firehose_engine import MAX_LAMBDA_PAYLOAD_BYTES, ConfigError, FirehoseEngine, StreamConfig
from tests.unit.local.support import (
    LAMBDA_ARN,
    STREAM_ARN,
    FakeClock,
    FakeS3,
    description,
    destination,
    error_rows,
    fake_transform,
    record,
)


def make(invoke: Any = fake_transform, **kwargs: Any) -> tuple[FirehoseEngine, FakeS3, FakeClock]:
    s3, clock = FakeS3(), FakeClock()
    return FirehoseEngine(description(**kwargs), s3, invoke, clock=clock), s3, clock


# ------------------------------------------------------------------ configuration
def test_config_from_aws_shape_and_bare_shape() -> None:
    aws = StreamConfig.from_description(description(retries="5", proc_size_mb="0.5"))
    bare = StreamConfig.from_description(
        {
            "DeliveryStreamName": "spend",
            "DeliveryStreamARN": STREAM_ARN,
            "ExtendedS3DestinationDescription": destination(),
        }
    )
    assert aws.bucket == "spend-bucket" and aws.lambda_arn == LAMBDA_ARN and aws.region == "us-east-1"
    assert aws.number_of_retries == 5 and aws.processor_buffer_bytes == 512 * 1024
    assert bare.number_of_retries == 2 and bare.dynamic_partitioning


def test_defaults_when_processor_parameters_are_absent() -> None:
    desc = description()
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    dest["ProcessingConfiguration"]["Processors"][0]["Parameters"] = [
        {"ParameterName": "LambdaArn", "ParameterValue": LAMBDA_ARN}
    ]
    cfg = StreamConfig.from_description(desc)
    assert (cfg.number_of_retries, cfg.processor_buffer_bytes, cfg.processor_interval_s) == (
        3,
        1024 * 1024,
        60,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_prefix": "errors/!{partitionKeyFromLambda:entity}/"},
        {"dynamic": False},  # partitionKeyFromLambda without dynamic partitioning
        {"error_prefix": ""},  # dynamic partitioning needs an error prefix
        {"compression": "Snappy"},
        {"prefix": "p/!{partitionKeyFromQuery:x}/"},
    ],
)
def test_configs_firehose_refuses_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        StreamConfig.from_description(description(**kwargs))


# ------------------------------------------------------------------- the event
def test_invocation_event_is_a_real_firehose_transformation_event() -> None:
    seen: list[dict[str, Any]] = []

    def spy(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return fake_transform(event)

    engine, _, clock = make(spy)
    ids = engine.put_records([record(value="a"), record(value="b")])
    engine.flush()
    (event,) = seen
    assert set(event) == {"invocationId", "deliveryStreamArn", "region", "records"}
    assert event["deliveryStreamArn"] == STREAM_ARN and event["region"] == "us-east-1"
    assert [r["recordId"] for r in event["records"]] == ids
    assert event["records"][0]["approximateArrivalTimestamp"] == int(clock.now * 1000)
    assert base64.b64decode(event["records"][1]["data"]) == record(value="b")


# --------------------------------------------------------------- Ok / Dropped
def test_ok_records_are_partitioned_and_concatenated_in_order() -> None:
    engine, s3, _ = make()
    engine.put_records([record("acme", value="1"), record("globex", value="2"), record("acme", value="3")])
    engine.flush()
    acme = s3.keys("spend/entity=acme/dt=2024-03-05/")
    globex = s3.keys("spend/entity=globex/dt=2024-03-05/")
    assert len(acme) == 1 and len(globex) == 1
    assert s3.body(acme[0]) == b"1\n3\n"
    assert acme[0].rsplit("/", 1)[1].startswith("spend-1-2024-03-05-07-08-09-")
    assert engine.stats.ok == 3 and engine.stats.objects_written == 2
    assert engine.stats.partitions == {"entity=acme", "entity=globex"}


def test_dropped_records_are_counted_not_written() -> None:
    engine, s3, _ = make()
    engine.put_records([record(result="Dropped"), record(value="kept")])
    engine.flush()
    assert engine.stats.dropped == 1 and engine.stats.ok == 1
    assert [s3.body(k) for k in s3.keys("spend/")] == [b"kept\n"]
    assert s3.keys("errors/") == []


def test_gzip_objects() -> None:
    engine, s3, _ = make(compression="GZIP")
    engine.put_records([record(value="x"), record(value="y")])
    engine.flush()
    (key,) = s3.keys("spend/")
    assert key.endswith(".gz") and s3.objects[key][:2] == b"\x1f\x8b"
    assert s3.body(key) == b"x\ny\n"


# ---------------------------------------------------------- ProcessingFailed
def test_processing_failed_goes_to_error_prefix_with_raw_data_intact() -> None:
    engine, s3, clock = make()
    raw = record(result="ProcessingFailed", value="bad")
    engine.put_records([raw, record(value="good")])
    engine.flush()
    (row,) = error_rows(s3, "processing-failed")
    assert base64.b64decode(row["rawData"]) == raw
    assert row["errorCode"] == "Lambda.ProcessingFailed" and row["lambdaArn"] == LAMBDA_ARN
    assert row["attemptsMade"] == 1 and row["arrivalTimestamp"] == int(clock.now * 1000)
    assert set(row) == {
        "attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
        "attemptEndingTimestamp", "rawData", "lambdaArn",
    }  # fmt: skip
    assert s3.keys("errors/processing-failed/2024/03/05/")
    assert engine.stats.processing_failed == 1 and engine.stats.ok == 1


# ------------------------------------------------ invocation failure + retries
def _missing(event: dict[str, Any]) -> dict[str, Any]:
    return {"records": fake_transform(event)["records"][1:]}


def _duplicate(event: dict[str, Any]) -> dict[str, Any]:
    out = fake_transform(event)["records"]
    return {"records": [*out, out[0]]}


def _unknown(event: dict[str, Any]) -> dict[str, Any]:
    out = fake_transform(event)["records"]
    out[0]["recordId"] = "not-a-record-id"
    return {"records": out}


def _bad_result(event: dict[str, Any]) -> dict[str, Any]:
    out = fake_transform(event)["records"]
    out[0]["result"] = "OK"
    return {"records": out}


def _raises(event: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("boom")


def _too_large(event: dict[str, Any]) -> dict[str, Any]:
    out = fake_transform(event)["records"]
    out[0]["data"] = base64.b64encode(b"x" * (MAX_LAMBDA_PAYLOAD_BYTES * 3 // 4)).decode()
    return {"records": out}


def _not_records(event: dict[str, Any]) -> dict[str, Any]:
    return {"items": []}


@pytest.mark.parametrize(
    ("invoke", "code"),
    [
        (_missing, "Lambda.MissingRecordId"),
        (_duplicate, "Lambda.DuplicatedRecordId"),
        (_unknown, "Lambda.InvalidRecordId"),
        (_bad_result, "Lambda.JsonProcessingException"),
        (_raises, "Lambda.FunctionError"),
        (_too_large, "Lambda.ResponseSizeTooLarge"),
        (_not_records, "Lambda.JsonProcessingException"),
    ],
)
def test_contract_violation_fails_the_invocation_is_retried_then_all_records_go_to_errors(
    invoke: Any, code: str
) -> None:
    engine, s3, _ = make(invoke, retries="2")
    raws = [record(value="a"), record(value="b")]
    engine.put_records(raws)
    engine.flush()
    assert (
        engine.stats.invocations == 3 and engine.stats.retries == 2 and engine.stats.failed_invocations == 3
    )
    rows = error_rows(s3, "processing-failed")
    assert [base64.b64decode(r["rawData"]) for r in rows] == raws
    assert {r["errorCode"] for r in rows} == {code} and {r["attemptsMade"] for r in rows} == {3}
    assert s3.keys("spend/") == [] and engine.stats.invocation_failed_records == 2


def test_a_transient_failure_is_retried_and_then_delivered() -> None:
    calls = {"n": 0}

    def flaky(event: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TimeoutError("Task timed out")
        return fake_transform(event)

    engine, s3, _ = make(flaky)
    engine.put_records([record()])
    engine.flush()
    assert engine.stats.retries == 1 and engine.stats.ok == 1 and s3.keys("errors/") == []


def test_requests_are_split_to_stay_under_six_megabytes() -> None:
    sizes: list[int] = []

    def spy(event: dict[str, Any]) -> dict[str, Any]:
        sizes.append(len(json.dumps(event)))
        return {"records": [{"recordId": r["recordId"], "result": "Dropped"} for r in event["records"]]}

    engine, _, _ = make(spy)
    engine.put_records([b"x" * 1_000_000 for _ in range(9)])
    engine.flush()
    assert len(sizes) >= 2 and max(sizes) <= MAX_LAMBDA_PAYLOAD_BYTES
    assert engine.stats.dropped == 9


# ------------------------------------------------------- dynamic partitioning
def test_missing_partition_keys_go_to_partitioning_failed() -> None:
    engine, s3, _ = make()
    engine.put_records([record(entity=None, value="orphan"), record(value="fine")])
    engine.flush()
    (row,) = error_rows(s3, "partitioning-failed")
    assert base64.b64decode(row["rawData"]) == b"orphan\n"
    assert "lambdaArn" not in row and row["errorCode"].startswith("DynamicPartitioning.")
    assert engine.stats.partitioning_failed == 1 and engine.stats.ok == 1


def test_prefix_over_512_characters_goes_to_partitioning_failed() -> None:
    engine, s3, _ = make()
    engine.put_records([record(entity="e" * 600)])
    engine.flush()
    assert len(error_rows(s3, "partitioning-failed")) == 1 and s3.keys("spend/") == []


def test_at_most_500_active_partitions() -> None:
    engine, s3, _ = make()
    engine.put_records([record(entity=f"e{i}", value=str(i)) for i in range(502)])
    engine.flush()
    assert engine.stats.max_active_partitions == 500 and engine.stats.objects_written == 500
    rows = error_rows(s3, "partitioning-failed")
    assert [base64.b64decode(r["rawData"]) for r in rows] == [b"500\n", b"501\n"]
    # once delivered, partitions are no longer active: new keys are accepted again
    engine.put_records([record(entity="e501", value="again")])
    engine.flush()
    assert [s3.body(k) for k in s3.keys("spend/entity=e501/")] == [b"again\n"]


# ------------------------------------------------------------------ buffering
def test_processor_buffer_size_triggers_an_invocation_without_flush() -> None:
    engine, _, _ = make(proc_size_mb="1")
    engine.put_records([record(value="x" * 400_000), record(value="y" * 400_000)])
    assert engine.stats.invocations == 0 and engine.pending_records == 2
    engine.put_records([record(value="z" * 400_000)])
    assert engine.stats.invocations == 1 and engine.pending_records == 0


def test_destination_buffer_size_triggers_delivery() -> None:
    engine, s3, _ = make(size_mb=1, proc_size_mb="0.2")
    engine.put_records([record(value="x" * 300_000) for _ in range(4)])
    assert engine.stats.invocations >= 1 and len(s3.keys("spend/")) == 1
    assert len(s3.body(s3.keys("spend/")[0])) >= 1024 * 1024


def test_intervals_are_honoured_by_tick() -> None:
    engine, s3, clock = make(proc_interval_s="30", interval_s=120)
    engine.put_records([record()])
    clock.advance(29)
    engine.tick()
    assert engine.stats.invocations == 0
    clock.advance(1)
    engine.tick()
    assert engine.stats.invocations == 1 and s3.keys() == [] and engine.buffered_records == 1
    clock.advance(119)
    engine.tick()
    assert s3.keys() == []
    clock.advance(1)
    engine.tick()
    assert len(s3.keys("spend/")) == 1 and engine.buffered_records == 0


# -------------------------------------------------------------------- reingest
def test_records_reput_by_the_function_are_processed_within_flush() -> None:
    engine: FirehoseEngine

    def splitter(event: dict[str, Any]) -> dict[str, Any]:
        out = []
        for rec in event["records"]:
            data = base64.b64decode(rec["data"])
            if data.startswith(b"split:"):
                engine.put_records([record(entity=e) for e in data[6:].decode().split(",")])
                out.append({"recordId": rec["recordId"], "result": "Dropped"})
            else:
                out.extend(fake_transform({"records": [rec]})["records"])
        return {"records": out}

    engine, s3, _ = make(splitter)
    engine.put_records([b"split:acme,globex"])
    engine.flush()
    assert engine.stats.invocations == 2 and engine.stats.ok == 2 and len(s3.keys("spend/")) == 2


def test_an_endless_reingest_loop_is_bounded() -> None:
    engine: FirehoseEngine

    def loop(event: dict[str, Any]) -> dict[str, Any]:
        engine.put_records([b"again"])
        return {"records": [{"recordId": r["recordId"], "result": "Dropped"} for r in event["records"]]}

    s3 = FakeS3()
    engine = FirehoseEngine(description(), s3, loop, clock=FakeClock(), max_flush_rounds=5)
    engine.put_records([b"start"])
    with pytest.raises(RuntimeError, match="5 rounds"):
        engine.flush()


def test_without_processing_records_are_delivered_as_is() -> None:
    s3 = FakeS3()
    desc = description(processing=False, dynamic=False, prefix="raw/!{timestamp:yyyy}/")
    engine = FirehoseEngine(desc, s3, None, clock=FakeClock())
    engine.put_records([b"a", b"b"])
    engine.flush()
    (key,) = s3.keys("raw/2024/")
    assert s3.body(key) == b"ab"


def test_event_fixture_is_a_transformation_event_carrying_cwl_envelopes() -> None:
    """The fixture under tests/events/ was produced by this engine and the subscription emulator."""
    from pathlib import Path

    from infra.local.subscription import decode_record

    event = json.loads(
        (Path(__file__).parents[2] / "events" / "firehose-cwl-subscription-event.json").read_text()
    )
    control, data = (decode_record(base64.b64decode(r["data"])) for r in event["records"])
    assert control["messageType"] == "CONTROL_MESSAGE"
    assert data["messageType"] == "DATA_MESSAGE" and data["logGroup"] == "/aws/bedrock/modelinvocations"
    assert json.loads(data["logEvents"][0]["message"])["schemaType"] == "ModelInvocationLog"
