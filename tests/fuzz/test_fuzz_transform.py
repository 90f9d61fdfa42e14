"""Fuzzing the transform: ``Transformer.process`` and the Lambda handler over generated and corrupted
batches (see :mod:`tests.fuzz.strategies` for the input space, :mod:`tests.fuzz.oracle` for the
invariants). ``BEDROCK_SPEND_FUZZ=long`` (``make fuzz``) runs many more and bigger examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.builders import ACCOUNT
from tests.fuzz.oracle import check_attribution, check_batch, check_key, gateway_router, settle
from tests.fuzz.strategies import FUZZ, FUZZ_SMALL, Batch, batches, names, principal_arns, request_metadata
from transform import handler
from transform.pricing import Catalogue
from transform.process import Transformer
from transform.runtime import TransformApp
from transform.settings import Settings

ROUTER = gateway_router()
CATALOGUE = Catalogue.load(Settings().pricing_file)


def _process(transformer: Transformer) -> Any:
    def run(event: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        outcome = transformer.process(event)
        return outcome.response(), outcome.reputs

    return run


@FUZZ
@given(batches())
def test_process_keeps_every_invariant(batch: Batch) -> None:
    transformer = Transformer(ROUTER, CATALOGUE)
    settled = settle(_process(transformer), batch.event)
    check_batch(ROUTER, batch, settled)
    results = sorted({r["result"] for r in settled.first_response["records"]})
    event(f"results: {'+'.join(results)}; passes: {settled.passes}")
    types = sorted({r["entity_type"] for _, r in settled.landed})
    event(f"entity types: {'+'.join(types) or 'none'}")


@FUZZ_SMALL
@given(batches(), st.sampled_from((100_000, 250_000)), st.integers(0, 3))
def test_process_keeps_every_invariant_under_a_tight_budget(batch: Batch, budget: int, hops: int) -> None:
    # A small response budget forces whole Ok records into re-puts and bounded deferrals.
    transformer = Transformer(ROUTER, CATALOGUE, response_budget_bytes=budget, max_reput_hops=hops)
    check_batch(ROUTER, batch, settle(_process(transformer), batch.event))


@FUZZ
@given(principal_arns(), request_metadata, st.sampled_from((ACCOUNT, "210987654321", "111122223333")))
def test_routing_is_safe_and_never_spoofed(arn: str, metadata: Any, own: str) -> None:
    metadata = (
        metadata
        if isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
        else None
    )
    route = ROUTER.route(arn, own, metadata)
    check_key(ROUTER, {"entity_type": route.entity_type, "entity_id": route.entity_id, "dt": "2025-03-11"})
    assert route.log_group == ROUTER.log_group_for(route.entity_type, route.entity_id)
    record = {
        "entity_type": route.entity_type,
        "entity_id": route.entity_id,
        "entity_name": route.entity_name,
        "principal_arn": arn,
        "request_metadata": metadata,
        "account_id": own,
    }
    check_attribution(record, own)


@FUZZ
@given(names)
def test_any_name_gives_a_safe_key_as_tenant_and_as_gateway_metadata(name: str) -> None:
    for arn, metadata in (
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-{name}/s1", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/bedrock-gateway/s1", {"tenant": name}),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/{name}", None),
    ):
        route = ROUTER.route(arn, ACCOUNT, metadata)
        check_key(
            ROUTER, {"entity_type": route.entity_type, "entity_id": route.entity_id, "dt": "2025-03-11"}
        )


# -- the Lambda handler, with its re-put adapter on a fake Firehose client ---------------------------
@dataclass
class FakeFirehose:
    """``put_record_batch`` that fails the records ``fail(call, index)`` names, and keeps the rest."""

    fail: Any = None
    accepted: list[bytes] = field(default_factory=list)
    calls: int = 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        assert DeliveryStreamName == "bedrock-spend"
        assert 1 <= len(Records) <= 500 and sum(len(r["Data"]) for r in Records) <= 4 * 1024 * 1024
        self.calls += 1
        responses: list[dict[str, str]] = []
        for i, record in enumerate(Records):
            if self.fail is not None and self.fail(self.calls, i):
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            else:
                self.accepted.append(record["Data"])
                responses.append({"RecordId": f"r{self.calls}-{i}"})
        failed = sum(1 for r in responses if "ErrorCode" in r)
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": responses}


@dataclass
class Context:
    function_name: str = "bedrock-spend-transform"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bedrock-spend-transform"
    aws_request_id: str = "fuzz"


@pytest.fixture(autouse=True, scope="module")
def _quiet_lambda_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        patch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
        yield


@FUZZ_SMALL
@given(batches(), st.integers(0, 3))
def test_handler_keeps_every_invariant_with_partial_put_failures(batch: Batch, every: int) -> None:
    # Given the real handler (Powertools decorators, re-put adapter) whose Firehose client fails
    # every ``every``-th record of the first call of each batch of re-puts
    fake = FakeFirehose(fail=(lambda call, i: call == 1 and i % every == 0) if every else None)
    app = TransformApp(Settings(reput_base_delay_seconds=0.0), firehose=fake)
    app.transformer = Transformer(ROUTER, CATALOGUE)
    original = handler.__dict__["transform_app"]
    setattr(handler, "transform_app", lambda: app)  # noqa: B010 - the handler looks it up per call
    try:

        def run(event: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
            fake.accepted.clear()
            fake.calls = 0
            response = handler.lambda_handler(event, Context())
            json.dumps(response)  # the response is JSON, as Lambda serialises it
            return response, list(fake.accepted)

        settled = settle(run, batch.event)
    finally:
        setattr(handler, "transform_app", original)  # noqa: B010
    # Then the same invariants hold: a failed put was retried, never lost and never duplicated
    check_batch(ROUTER, batch, settled)
