"""``bedrock-spend pricing check|show`` on recorded, real-shaped Price List pages (botocore Stubber)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.commands import pricing as command
from infra.price_list import classify, per_1k
from tests.builders import load_event
from transform.pricing import Catalogue
from transform.settings import Settings

DAY = "2026-12-04"


def filters(region: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]


@pytest.fixture()
def pricing() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def stub_pages(stubber: Stubber, region: str = "us-east-1") -> None:
    bedrock = [json.dumps(i) for i in load_event("pricelist-amazonbedrock-us-east-1")]  # type: ignore[attr-defined]
    models = [json.dumps(i) for i in load_event("pricelist-foundationmodels-us-east-1")]  # type: ignore[attr-defined]
    base = {"FormatVersion": "aws_v1", "Filters": filters(region)}
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": bedrock[:7], "NextToken": "page-2"},
        {"ServiceCode": "AmazonBedrock", **base},
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": bedrock[7:]},
        {"ServiceCode": "AmazonBedrock", "NextToken": "page-2", **base},
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": models},
        {"ServiceCode": "AmazonBedrockFoundationModels", **base},
    )


def check_args(**changes: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "region": "us-east-1",
        "threshold": "0",
        "update": None,
        "catalogue": Settings().pricing_file,
    }
    values.update(changes)
    return argparse.Namespace(**values)


def run(client: Any, args: argparse.Namespace) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = command.run_check(args, client, lines.append, today=DAY)
    return code, lines


def row(lines: list[str], model: str, scope: str, kind: str) -> list[str]:
    found = [ln.split() for ln in lines if ln.split()[:3] == [model, scope, kind]]
    assert len(found) == 1, (model, scope, kind)
    return found[0]


def test_drift_table_and_exit_code(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stub_pages(stubber)
    code, lines = run(client, check_args())
    stubber.assert_no_pending_responses()
    assert code == 1
    assert row(lines, "amazon.nova-lite-v1:0", "in_region", "output")[3:] == [
        "0.00024",
        "0.00025",
        "+4.17",
        "*",
    ]
    assert row(lines, "amazon.nova-lite-v1:0", "global", "input")[3:] == ["-", "0.00006", "new", "*"]
    assert row(lines, "amazon.nova-micro-v1:0", "in_region", "batch_input")[3:] == [
        "0.0000175",
        "0.0000175",
        "+0.00",
    ]
    assert row(lines, "amazon.nova-micro-v1:0", "in_region", "cache_read")[3:5] == [
        "0.00000875",
        "0.00000875",
    ]
    claude = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    assert row(lines, claude, "in_region", "cache_write")[3:5] == ["0.00375", "0.00375"]  # Units per million
    sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert row(lines, sonnet45, "in_region", "input")[3:5] == ["0.0033", "0.0033"]
    assert row(lines, sonnet45, "global", "output")[3:5] == ["0.015", "0.015"]
    assert row(lines, "meta.llama3-3-70b-instruct-v1:0", "in_region", "input")[3:5] == ["0.00072", "0.00072"]
    text = "\n".join(lines)
    for reason in (
        "model customization",
        "flex tier",
        "latency-optimized inference",
        "long-context rate",
        "per-image price (the log has no image count)",
        "unknown unit 'Quanta'",
        "no catalogue model has this Price List name",
    ):
        assert reason in text


def test_threshold_lets_small_drift_pass_but_not_missing_rates(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stub_pages(stubber)
    code, lines = run(client, check_args(threshold="5"))
    assert code == 1  # the global Nova Lite rate is still missing from the catalogue
    assert row(lines, "amazon.nova-lite-v1:0", "in_region", "output")[-1] == "+4.17"


def test_update_writes_a_valid_new_version_that_then_checks_clean(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stubber = pricing
    stub_pages(stubber)
    target = tmp_path / "pricing.json"
    code, lines = run(client, check_args(update=target))
    assert code == 0 and "2 new entries" in lines[-1]
    catalogue = Catalogue.load(target)
    assert catalogue.version == DAY
    before = Catalogue.load(Settings().pricing_file)
    q_old = before.quote("amazon.nova-lite-v1:0", "us-east-1", DAY)
    q_new = catalogue.quote("amazon.nova-lite-v1:0", "us-east-1", DAY)
    assert q_new.rates is not None and q_old.rates is not None
    assert q_new.rates.per_1k("output") == Decimal("0.00025") and q_old.rates.per_1k("output") == Decimal(
        "0.00024"
    )
    # Kinds AWS did not list are carried over, and the day before keeps the old rate.
    assert q_new.rates.per_1k("batch_input") == q_old.rates.per_1k("batch_input")
    assert catalogue.quote("amazon.nova-lite-v1:0", "us-east-1", "2026-12-03").rates == q_old.rates
    assert catalogue.quote("global.amazon.nova-lite-v1:0", "us-east-1", DAY).status == "priced"
    stub_pages(stubber)
    code, _ = run(client, check_args(catalogue=target))
    assert code == 0


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"usagetype": "USE1-MP:USE1_InputTokenCount-Units"}, ("input", "in_region")),
        ({"usagetype": "USE1-MP:USE1_OutputTokenCount_Global-Units"}, ("output", "global")),
        ({"usagetype": "USE1_input_tokens_global_standard-Units"}, ("input", "global")),
        ({"usagetype": "EUC1-MP:EUC1_CacheWriteInputTokenCount-Units"}, ("cache_write", "in_region")),
        ({"usagetype": "USE1-MP:USE1_CacheWrite1hInputTokenCount-Units"}, ("cache_write_1h", "in_region")),
        ({"usagetype": "USE1-MP:USE1_InputTokenCount_Batch-Units"}, ("batch_input", "in_region")),
        ({"usagetype": "USE1-MP:USE1_InputTokenCount_CrossGeo-Units"}, ("input", "geo")),
        (
            {"usagetype": "USE1-Nova2.0Lite-output-tokens-cross-region-global-batch"},
            ("batch_output", "global"),
        ),
        ({"usagetype": "USE1-MP:USE1_Reserved_InputTokenCount-Units"}, "reserved tier"),
        ({"usagetype": "USE1-Claude4Sonnet-input-tokens-flex", "service_tier": "Flex"}, "flex tier"),
    ],
)
def test_usage_type_mapping(attrs: dict[str, str], expected: Any) -> None:
    assert classify(attrs) == expected


def test_units_are_normalised_to_per_1k_tokens() -> None:
    assert per_1k("1K tokens", "", "0.00006") == Decimal("0.00006")
    assert per_1k("1M tokens", "", "0.72") == Decimal("0.00072")
    assert per_1k("Units", "Million Input Tokens Global", "3.00") == Decimal("0.003")
    assert per_1k("Tokens", "", "0.000001") == Decimal("0.001")
    assert per_1k("Units", "Per image generated", "0.04") is None
    assert per_1k("1K tokens", "", "NaN") is None


def test_show_explains_resolution_and_rates() -> None:
    lines: list[str] = []
    args = argparse.Namespace(
        model_id="eu.meta.llama3-70b-instruct-v1:0", region="eu-west-2", date="2026-01-01", catalogue=None
    )
    assert command.run_show(args, lines.append) == 0
    text = "\n".join(lines)
    assert "meta.llama3-70b-instruct-v1:0" in text and "geo" in text and "eu-west-2" in text
    assert any(ln.split() == ["input", "0.00345"] for ln in lines)
    lines.clear()
    args.model_id = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzz"
    assert command.run_show(args, lines.append) == 1
    assert any("unresolved_profile" in ln for ln in lines)


def test_pricing_is_a_registered_command() -> None:
    from infra.cli import COMMANDS

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    assert "pricing" in COMMANDS
    args = parser.parse_args(["pricing", "check", "--region", "eu-west-1", "--threshold", "2.5"])
    assert (args.region, args.threshold, args.func) == ("eu-west-1", "2.5", command.run_check)
