"""The transform core: one partition key per Ok record, every recordId once, conservation over re-puts,
the 6 MB response budget and bounded re-ingestion."""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import ACCOUNT, envelope, firehose_event, invocation, load_event
from transform.envelope import decode_record
from transform.pricing import Catalogue
from transform.process import Transformer
from transform.routing import Router

PRINCIPALS = (
    f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/api",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/tenant-globex",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-globex/worker",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_0f1e2d3c4b5a6978/jane.doe@example.com",
    f"arn:aws:iam::{ACCOUNT}:user/dheeraj",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-nightly/build-1",
    "arn:aws:sts::210987654321:assumed-role/tenant-acme/x1",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/unknown-role/x1",
)
DAYS = ("2025-03-10T23:59:59Z", "2025-03-11T00:00:00Z", "2025-03-12T12:00:00Z")

event_spec = st.tuples(
    st.sampled_from(PRINCIPALS),
    st.sampled_from(DAYS),
    st.integers(0, 3000),  # body size
    st.booleans(),  # valid?
)
record_spec = st.tuples(
    st.sampled_from(("gzip", "plain", "bare", "control", "garbage")),
    st.lists(event_spec, min_size=0, max_size=12),
)


def build(records: list[tuple[str, list[tuple[str, str, int, bool]]]]) -> tuple[dict[str, Any], Counter[str]]:
    """A Firehose event and the multiset of event identities that must come out."""
    datas: list[bytes] = []
    expected: Counter[str] = Counter()
    n = 0
    for shape, events in records:
        messages = []
        for principal, ts, body, valid in events:
            n += 1
            ident = f"req-{n:06d}"
            if valid:
                ev = invocation(timestamp=ts, requestId=ident, identity={"arn": principal})
                ev["input"]["inputBodyJson"] = {"text": "x" * body}
                messages.append(json.dumps(ev))
            else:
                messages.append(f'{{"broken": "{ident}"')
        if shape == "control":
            datas.append(gzip.compress(json.dumps(load_event("cwl-control-message")).encode()))
        elif shape == "garbage":
            datas.append(b"\x1f\x8b\x08garbage")
        elif shape == "bare":
            if not messages:
                datas.append(b"\xff")
                continue
            datas.append("\n".join(messages).encode())
            expected.update(_ident(m) for m in messages)
        else:
            env = json.dumps(envelope(messages)).encode()
            datas.append(gzip.compress(env) if shape == "gzip" else env)
            expected.update(_ident(m) for m in messages)
    return firehose_event(datas), expected


def _ident(message: str) -> str:
    return message.split('"requestId": "')[1][:10] if '"requestId"' in message else message


def record_ident(record: dict[str, Any]) -> str:
    return record["request_id"] or record["raw_message"]


def run_until_quiet(
    transformer: Transformer, event: dict[str, Any]
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Process the event, then re-put payloads as Firehose would, until nothing is re-put."""
    seen: Counter[str] = Counter()
    responses = []
    for _ in range(transformer.max_reput_hops + 3):
        outcome = transformer.process(event)
        response = outcome.response()
        responses.append(response)
        check_response(event, response, transformer.response_budget_bytes)
        for rec in response["records"]:
            if rec["result"] == "Ok":
                keys = rec["metadata"]["partitionKeys"]
                for line in base64.b64decode(rec["data"]).splitlines():
                    record = json.loads(line)
                    assert (record["entity_type"], record["entity_id"], record["dt"]) == (
                        keys["entity_type"],
                        keys["entity_id"],
                        keys["dt"],
                    ), "an Ok record holds events of exactly one partition key"
                    seen[record_ident(record)] += 1
            elif rec["result"] == "ProcessingFailed":
                # Firehose keeps the original record in the error prefix
                original = next(r["data"] for r in event["records"] if r["recordId"] == rec["recordId"])
                try:
                    decoded = decode_record(base64.b64decode(original))
                except ValueError:
                    continue
                if decoded.kind == "reput":  # kept whole in the error prefix
                    for line in decoded.reput_body.splitlines():
                        seen[record_ident(json.loads(line))] += 1
        if not outcome.reputs:
            return seen, responses
        event = firehose_event(outcome.reputs)
    raise AssertionError("re-ingestion did not settle")


def check_response(event: dict[str, Any], response: dict[str, Any], budget: int) -> None:
    ids = [r["recordId"] for r in event["records"]]
    assert [r["recordId"] for r in response["records"]] == ids, "every recordId exactly once, in order"
    assert {r["result"] for r in response["records"]} <= {"Ok", "Dropped", "ProcessingFailed"}
    assert len(json.dumps(response)) < budget


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_spec, min_size=1, max_size=8))
def test_conservation_over_reputs(router: Router, catalogue: Catalogue, records: Any) -> None:
    transformer = Transformer(router, catalogue)
    event, expected = build(records)
    seen, responses = run_until_quiet(transformer, event)
    assert seen == expected
    # the second pass never splits: re-put records come back as Ok with nothing re-put
    assert len(responses) <= 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_spec, min_size=1, max_size=8))
def test_conservation_under_a_tight_response_budget(
    router: Router, catalogue: Catalogue, records: Any
) -> None:
    transformer = Transformer(router, catalogue, response_budget_bytes=100_000, max_reput_hops=2)
    event, expected = build(records)
    seen, _ = run_until_quiet(transformer, event)
    assert seen == expected


def test_a_big_batch_stays_under_6mb(transformer: Transformer) -> None:
    # Given 60 records of 50 invocations, each record mixing principals and days (the bench shape)
    records = [
        ("gzip", [(PRINCIPALS[(r + i) % 5], DAYS[i % 2], 3000, True) for i in range(50)]) for r in range(60)
    ]
    event, expected = build(records)
    # When transformed, then re-puts are passed through
    seen, responses = run_until_quiet(transformer, event)
    # Then nothing is lost, every response respected the budget (checked in run_until_quiet), and
    # the 10 keys fit the 60 data records: nothing needs re-putting
    assert seen == expected
    assert len(responses) == 1


def test_keys_beyond_the_records_are_reput(transformer: Transformer) -> None:
    # Given 2 records holding 8 keys (4 principals x 2 days)
    distinct = [PRINCIPALS[j] for j in (0, 2, 3, 4)]
    records = [
        ("gzip", [(distinct[i % 4], DAYS[(i // 4) % 2], 10, True) for i in range(16)]) for _ in range(2)
    ]
    event, expected = build(records)
    outcome = transformer.process(event)
    # Then the two largest keys stay, six are re-put, and the second pass settles everything
    assert [r.result for r in outcome.records] == ["Ok", "Ok"]
    assert len(outcome.reputs) == 6
    seen, responses = run_until_quiet(transformer, event)
    assert seen == expected and len(responses) == 2


def test_deferred_records_are_bounded(router: Router, catalogue: Catalogue) -> None:
    # Given a budget too small for even one re-put record and no hops allowed
    transformer = Transformer(router, catalogue, response_budget_bytes=100_000, max_reput_hops=0)
    event, expected = build([("gzip", [(PRINCIPALS[0], DAYS[0], 10, True)] * 120)])
    first = transformer.process(event)
    assert [r.result for r in first.records] == ["Dropped"] and len(first.reputs) == 1
    second = transformer.process(firehose_event(first.reputs))
    # Then the re-put record is failed into the error prefix (with its data), never looped
    assert [r.result for r in second.records] == ["ProcessingFailed"] and not second.reputs
    seen, _ = run_until_quiet(transformer, event)
    assert seen == expected


def test_results_by_shape(transformer: Transformer) -> None:
    event, _ = build(
        [("control", []), ("garbage", []), ("gzip", []), ("gzip", [(PRINCIPALS[0], DAYS[0], 10, True)])]
    )
    outcome = transformer.process(event)
    assert [r.result for r in outcome.records] == ["Dropped", "ProcessingFailed", "Dropped", "Ok"]
    assert outcome.records[1].reason and "gzip" in outcome.records[1].reason
    assert outcome.stats.control_messages == 1 and outcome.stats.processing_failed == 1


def test_loop_guard_drops_mirrored_groups(transformer: Transformer) -> None:
    message = json.dumps(invocation())
    data = gzip.compress(json.dumps(envelope([message], log_group="/bedrock/tenants/acme")).encode())
    outcome = transformer.process(firehose_event([data]))
    assert outcome.records[0].result == "Dropped" and outcome.stats.loop_guard_events == 1


def test_spoofed_attribution_never_reaches_the_victim(transformer: Transformer) -> None:
    spoofs = [
        invocation(
            requestId="s1", identity={"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/tenant-globex"}
        ),
        invocation(
            requestId="s2", identity={"arn": "arn:aws:sts::210987654321:assumed-role/tenant-globex/x1"}
        ),
        invocation(
            "bedrock-converse-cache-geo",
            requestId="s3",
            identity={"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/analytics-batch/x1"},
            requestMetadata={"tenant": "globex"},
        ),
    ]
    data = gzip.compress(json.dumps(envelope([json.dumps(s) for s in spoofs])).encode())
    _, responses = run_until_quiet(transformer, firehose_event([data]))
    records = [
        json.loads(line)
        for resp in responses
        for rec in resp["records"]
        if rec["result"] == "Ok"
        for line in base64.b64decode(rec["data"]).splitlines()
    ]
    assert len(records) == 3
    assert all(r["entity_id"] != "globex" for r in records)
    by_id = {r["request_id"]: r for r in records}
    assert (by_id["s1"]["entity_type"], by_id["s1"]["entity_id"]) == ("tenant", "acme")
    assert (by_id["s2"]["entity_type"], by_id["s2"]["entity_id"]) == ("unattributed", "210987654321")
    assert by_id["s3"]["entity_type"] == "unattributed"


def test_bodies_never_reach_the_output(transformer: Transformer) -> None:
    ev = invocation()
    ev["input"]["inputBodyJson"] = {"secret": "TOP-SECRET-PROMPT"}
    data = gzip.compress(json.dumps(envelope([json.dumps(ev)])).encode())
    response = transformer.process(firehose_event([data])).response()
    assert b"TOP-SECRET-PROMPT" not in base64.b64decode(response["records"][0]["data"])
