"""Functional: `bedrock-spend reconcile` on recorded, real-shaped Cost Explorer responses (botocore
Stubber validates them against the service model) and spend records made by the real transform."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.cli import build_parser
from infra.commands import reconcile as command
from infra.reconcile import classify
from tests.analytics_data import write_fixture

EVENTS = Path(__file__).resolve().parents[1] / "events"
SERVICES = [
    "Amazon Bedrock",
    "Claude 3 Opus (Amazon Bedrock Edition)",
    "Claude 3.5 Haiku (Amazon Bedrock Edition)",
    "Claude 3.5 Sonnet (Amazon Bedrock Edition)",
]
TODAY = date(2025, 12, 15)


def _event(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return doc


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("reconcile"), duplicate=True).root


def _ce(cost_pages: list[dict[str, Any]]) -> tuple[Any, Stubber]:
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    period = {"Start": "2025-11-01", "End": "2025-12-01"}
    dims = {
        "TimePeriod": period,
        "Dimension": "SERVICE",
        "SearchString": "Bedrock",
        "Context": "COST_AND_USAGE",
    }
    stub.add_response("get_dimension_values", _event("ce-get-dimension-values-page1"), dims)
    stub.add_response(
        "get_dimension_values",
        _event("ce-get-dimension-values-page2"),
        {**dims, "NextPageToken": "AAMA-EFRSURBSGhT"},
    )
    query = {
        "TimePeriod": period,
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": SERVICES}},
        "GroupBy": [{"Type": "DIMENSION", "Key": "RECORD_TYPE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    }
    token = None
    for page in cost_pages:
        stub.add_response(
            "get_cost_and_usage", page, {**query, **({"NextPageToken": token} if token else {})}
        )
        token = page.get("NextPageToken")
    stub.activate()
    return client, stub


def _run(data: Path, ce: Any, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    args = build_parser().parse_args(
        ["reconcile", "--month", "2025-11", "--data", str(data), "--format", "json", *extra]
    )
    code = command.run(args, ce_client=ce, today=TODAY)
    return code, json.loads(capsys.readouterr().out)


def test_reconcile_finds_the_seeded_gap_and_the_unattributed_spend(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a bill whose 2025-11-05 holds $0.02 of usage that no spend record carries
    ce, stub = _ce([_event("ce-get-cost-and-usage-page1"), _event("ce-get-cost-and-usage-page2")])
    # When reconciling with a 5 % threshold and at most 3 % unattributed per day
    code, doc = _run(data, ce, "--threshold", "5", "--max-unattributed", "3", capsys=capsys)
    stub.assert_no_pending_responses()
    # Then the command fails, naming the gap day and the unattributed day
    assert code == 1 and doc["ok"] is False
    days = {d["day"]: d for d in doc["days"]}
    assert len(days) == 30 and doc["services"] == SERVICES
    nov5, nov6 = days["2025-11-05"], days["2025-11-06"]
    assert Decimal(str(nov5["gap_usd"])) == Decimal("0.02")
    assert round(Decimal(str(nov5["gap_pct"])), 1) == Decimal("21.9")
    assert Decimal(str(nov6["unattributed_usd"])) == Decimal("0.0018")
    assert Decimal(str(nov6["attributed_by_type_usd"]["ci"])) == Decimal("0.044")
    assert nov6["unpriced_requests"] == 1 and Decimal(str(nov6["gap_usd"])) == 0
    assert days["2025-11-03"]["invalid_records"] == 1  # de-duplicated although delivered twice
    assert days["2025-11-03"]["unpriced_requests"] == 0  # invalid records are not "unpriced"
    assert any(f.startswith("2025-11-05: unexplained gap $0.02") for f in doc["failures"])
    assert any(f.startswith("2025-11-06: unattributed $0.0018") for f in doc["failures"])
    assert not any(f.startswith(("2025-11-03", "2025-11-04")) for f in doc["failures"])
    # And the lines outside per-token usage are explained, not counted as gap
    assert {k: Decimal(str(v)) for k, v in days["2025-11-04"]["explained_usd"].items()} == {
        "credits": Decimal("-0.02"),
        "provisioned": Decimal("1.25"),
    }
    assert Decimal(str(days["2025-11-03"]["explained_usd"]["tax"])) == Decimal("0.0036")
    assert Decimal(str(days["2025-11-06"]["explained_usd"]["other_units"])) == Decimal("0.04")
    assert (
        Decimal(str(days["2025-11-03"]["gap_usd"])) == 0 and Decimal(str(days["2025-11-04"]["gap_usd"])) == 0
    )


def test_reconcile_passes_when_only_explained_lines_differ(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page2 = _event("ce-get-cost-and-usage-page2")
    nov5 = page2["ResultsByTime"][0]
    nov5["Groups"] = [g for g in nov5["Groups"] if "Batch" not in g["Keys"][1]]  # no seeded gap
    ce, _ = _ce([_event("ce-get-cost-and-usage-page1"), page2])
    code, doc = _run(data, ce, capsys=capsys)
    assert code == 0 and doc["ok"] is True and doc["failures"] == []
    assert Decimal(str(doc["gap_pct"])) == 0


def test_table_output_explains_the_gap_sources(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ce, _ = _ce([_event("ce-get-cost-and-usage-page1"), _event("ce-get-cost-and-usage-page2")])
    args = build_parser().parse_args(["reconcile", "--month", "2025-11", "--data", str(data)])
    assert command.run(args, ce_client=ce, today=TODAY) == 1
    out = capsys.readouterr().out
    for text in (
        "provisioned throughput",
        "tax",
        "credits",
        "pricing drift",
        "not yet delivered",
        "2025-11-05",
    ):
        assert text in out


@pytest.mark.parametrize(
    ("record_type", "usage_type", "category"),
    [
        ("Usage", "USE1-MP:USE1_InputTokenCount-Units", "tokens"),
        ("Usage", "USW2-MP:USW2_output_tokens_standard-Units", "tokens"),
        ("Usage", "USE1-Nova-Lite-input-tokens", "tokens"),
        ("Usage", "USE1-ProvisionedThroughput-ModelUnits", "provisioned"),
        ("Usage", "USE1-TitanImageGenerator-V2-images", "other_units"),
        ("Credit", "USE1-MP:USE1_InputTokenCount-Units", "credits"),
        ("Tax", "USE1-MP:USE1_InputTokenCount-Units", "tax"),
        ("Refund", "anything", "refunds"),
        ("Enterprise Discount Program Discount", "x", "other_charges"),
    ],
)
def test_classify(record_type: str, usage_type: str, category: str) -> None:
    assert classify(record_type, usage_type) == category
