"""Pricing: every operation shape against independent Decimal expectations; resolution; price changes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transform.pricing import Catalogue, PricingConfigError, format_usd, usd_decimal
from transform.settings import Settings

K = Decimal(1000)


def usd(tokens: int, per_1k: str) -> Decimal:
    return Decimal(tokens) * Decimal(per_1k) / K


def cost(
    catalogue: Catalogue, model_id: str, day: str = "2025-11-02", region: str = "us-east-1", **tokens: Any
):
    quote = catalogue.quote(model_id, region, day)
    return quote, catalogue.cost(quote, tokens.get("i"), tokens.get("o"), tokens.get("cr"), tokens.get("cw"))


@pytest.mark.parametrize(
    ("model_id", "inp", "out"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "0.00025", "0.00125"),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "0.003", "0.015"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "0.0008", "0.004"),
        ("amazon.nova-micro-v1:0", "0.000035", "0.00014"),
        ("amazon.nova-lite-v1:0", "0.00006", "0.00024"),
        ("amazon.nova-pro-v1:0", "0.0008", "0.0032"),
        ("meta.llama3-70b-instruct-v1:0", "0.00265", "0.0035"),
    ],
)
def test_issue_rates(catalogue: Catalogue, model_id: str, inp: str, out: str) -> None:
    _, costs = cost(catalogue, model_id, i=1234, o=567)
    assert usd_decimal(costs.input) == usd(1234, inp)
    assert usd_decimal(costs.output) == usd(567, out)
    assert usd_decimal(costs.total) == usd(1234, inp) + usd(567, out)
    assert costs.status == "priced"


def test_cache_heavy_converse_geo(catalogue: Catalogue) -> None:
    quote, costs = cost(
        catalogue, "us.anthropic.claude-3-7-sonnet-20250219-v1:0", i=1200, o=800, cr=20000, cw=3000
    )
    assert (quote.model, quote.scope) == ("anthropic.claude-3-7-sonnet-20250219-v1:0", "geo")
    expected = usd(1200, "0.003") + usd(800, "0.015") + usd(20000, "0.0003") + usd(3000, "0.00375")
    assert usd_decimal(costs.total) == expected == Decimal("0.03285")
    assert usd_decimal(costs.cache_read) == Decimal("0.006")


def test_global_is_cheaper_than_in_region_for_new_claude(catalogue: Catalogue) -> None:
    _, glob = cost(catalogue, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", i=1000, o=1000)
    _, geo = cost(catalogue, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", i=1000, o=1000)
    _, reg = cost(catalogue, "anthropic.claude-sonnet-4-5-20250929-v1:0", i=1000, o=1000)
    assert usd_decimal(glob.total) == Decimal("0.018")
    assert usd_decimal(geo.total) == usd_decimal(reg.total) == Decimal("0.0198")


def test_embedding_without_output_tokens(catalogue: Catalogue) -> None:
    _, costs = cost(catalogue, "amazon.titan-embed-text-v2:0", i=3)
    assert costs.output is None and usd_decimal(costs.total) == usd(3, "0.00002")
    assert costs.status == "priced"


def test_error_without_usage_costs_zero_but_is_priced(catalogue: Catalogue) -> None:
    _, costs = cost(catalogue, "anthropic.claude-3-haiku-20240307-v1:0", i=0)
    assert costs.total == 0 and costs.status == "priced"


@pytest.mark.parametrize(
    ("model_id", "model", "scope"),
    [
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
            "amazon.nova-pro-v1:0",
            "in_region",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "geo",
        ),
        ("apac.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "geo"),
        (
            "anthropic.claude-3-haiku-20240307-v1:0:200k",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "in_region",
        ),
    ],
)
def test_model_id_forms(catalogue: Catalogue, model_id: str, model: str, scope: str) -> None:
    quote = catalogue.quote(model_id, "us-east-1", "2025-11-02")
    assert (quote.model, quote.scope, quote.status) == (model, scope, "priced")


@pytest.mark.parametrize(
    ("model_id", "status"),
    [
        ("vendor.unreleased-model-v9:0", "unknown_model"),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzz", "unresolved_profile"),
        ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc", "provisioned_throughput"),
        ("amazon.nova-canvas-v1:0", "not_token_priced"),
        ("global.anthropic.claude-3-haiku-20240307-v1:0", "no_rate_for_scope"),
    ],
)
def test_unpriced_is_never_a_silent_zero(catalogue: Catalogue, model_id: str, status: str) -> None:
    quote, costs = cost(catalogue, model_id, i=100, o=100)
    assert quote.status == status and costs.status == status
    assert costs.total is None and costs.input is None


def test_cache_tokens_without_cache_rate_are_partial(catalogue: Catalogue) -> None:
    _, costs = cost(catalogue, "amazon.nova-lite-v1:0", i=10, o=10, cr=0, cw=50)
    assert costs.status == "partial" and costs.cache_write is None
    assert usd_decimal(costs.total) == usd(10, "0.00006") + usd(10, "0.00024")


def versioned_catalogue() -> Catalogue:
    raw = json.loads(Settings().pricing_file.read_text())
    raw["application_profiles"] = {
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6": (
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
        )
    }
    prices = raw["models"]["amazon.nova-micro-v1:0"]["prices"]
    prices.append(
        {
            "effective_from": "2026-01-15",
            "scopes": ["in_region", "geo"],
            "regions": ["*"],
            "input": "0.00003",
            "output": "0.00012",
            "source": "bedrock-pricing-page",
        }
    )
    prices.append(
        {
            "effective_from": "2024-12-03",
            "scopes": ["in_region"],
            "regions": ["eu-west-1"],
            "input": "0.000046",
            "output": "0.000184",
            "source": "bedrock-pricing-page",
        }
    )
    return Catalogue(raw)


def test_price_change_applies_from_its_day() -> None:
    catalogue = versioned_catalogue()
    q_before, c_before = cost(catalogue, "amazon.nova-micro-v1:0", day="2026-01-14", i=1000, o=1000)
    q_on, c_on = cost(catalogue, "amazon.nova-micro-v1:0", day="2026-01-15", i=1000, o=1000)
    assert usd_decimal(c_before.total) == Decimal("0.000175")
    assert usd_decimal(c_on.total) == Decimal("0.00015")
    assert q_before.price_version == "2026-12-04/2024-12-03"
    assert q_on.price_version == "2026-12-04/2026-01-15"


def test_region_specific_rate_beats_default() -> None:
    catalogue = versioned_catalogue()
    _, eu = cost(catalogue, "amazon.nova-micro-v1:0", day="2025-06-01", region="eu-west-1", i=1000)
    assert usd_decimal(eu.total) == Decimal("0.000046")


def test_application_profile_resolves_through_configured_mapping() -> None:
    catalogue = versioned_catalogue()
    quote = catalogue.quote(
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
        "us-east-1",
        "2025-11-02",
    )
    assert (quote.model, quote.scope, quote.status) == (
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "application_profile",
        "priced",
    )


def test_format_usd_is_exact() -> None:
    assert format_usd(0) == b"0"
    assert format_usd(1_400_000) == b"0.0000014"
    assert format_usd(12_340_000_000_000) == b"12.34"


@pytest.mark.parametrize(
    "bad",
    [
        {"input": "0.0000000001", "output": "1"},
        {"input": "-1", "output": "1"},
        {"input": "abc", "output": "1"},
    ],
)
def test_bad_rates_are_rejected_at_load(bad: dict[str, str]) -> None:
    raw = json.loads(Settings().pricing_file.read_text())
    raw["models"]["x.y-v1:0"] = {
        "name": "x",
        "prices": [
            {"effective_from": "2025-01-01", "scopes": ["in_region"], "source": "bedrock-pricing-page", **bad}
        ],
    }
    with pytest.raises(PricingConfigError):
        Catalogue(raw)


@pytest.mark.parametrize(
    ("model_id", "region", "inp", "out"),
    [
        ("eu.meta.llama3-70b-instruct-v1:0", "eu-west-2", "0.00345", "0.00455"),  # geo call, London rate
        ("meta.llama3-70b-instruct-v1:0", "sa-east-1", "0.00445", "0.00588"),
        ("apac.amazon.nova-pro-v1:0", "ap-south-1", "0.00094", "0.00376"),
        ("mistral.mistral-large-2402-v1:0", "ca-central-1", "0.0046", "0.0138"),
        ("meta.llama3-70b-instruct-v1:0", "us-west-2", "0.00265", "0.0035"),  # no regional entry: '*'
        ("anthropic.claude-instant-v1", "us-east-1", "0.0008", "0.0024"),
        ("mistral.pixtral-large-2502-v1:0", "us-east-1", "0.002", "0.006"),
    ],
)
def test_region_specific_and_new_rates(
    catalogue: Catalogue, model_id: str, region: str, inp: str, out: str
) -> None:
    _, costs = cost(catalogue, model_id, region=region, i=777, o=333)
    assert usd_decimal(costs.total) == usd(777, inp) + usd(333, out)


def test_batch_and_1h_rates_are_kept_but_not_applied_per_event(catalogue: Catalogue) -> None:
    quote, costs = cost(catalogue, "amazon.nova-pro-v1:0", i=1000, o=1000)
    assert quote.rates is not None
    assert quote.rates.per_1k("batch_input") == Decimal("0.0004")
    assert quote.rates.per_1k("batch_output") == Decimal("0.0016")
    assert usd_decimal(costs.total) == Decimal("0.0008") + Decimal("0.0032")  # on-demand rates


def test_global_inference_profile_arn(catalogue: Catalogue) -> None:
    arn = (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
        "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    quote, costs = cost(catalogue, arn, i=2000, o=100, cr=5000, cw=1000)
    assert (quote.model, quote.scope) == ("anthropic.claude-haiku-4-5-20251001-v1:0", "global")
    expected = usd(2000, "0.001") + usd(100, "0.005") + usd(5000, "0.0001") + usd(1000, "0.00125")
    assert usd_decimal(costs.total) == expected


def test_embedding_profile_and_error_events_against_decimal(catalogue: Catalogue) -> None:
    _, emb = cost(catalogue, "us.cohere.embed-multilingual-v3", i=512)
    assert usd_decimal(emb.total) == usd(512, "0.0001") and emb.output is None
    _, err = cost(catalogue, "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", region="eu-central-1")
    assert err.total == 0 and err.status == "priced"


def test_price_change_day_with_a_regional_entry() -> None:
    catalogue = versioned_catalogue()
    # eu-west-1 keeps its own entry; the '*' change of 2026-01-15 does not touch it.
    _, eu = cost(catalogue, "amazon.nova-micro-v1:0", day="2026-01-15", region="eu-west-1", i=1000)
    _, us = cost(catalogue, "amazon.nova-micro-v1:0", day="2026-01-15", region="us-east-1", i=1000)
    assert usd_decimal(eu.total) == Decimal("0.000046") and usd_decimal(us.total) == Decimal("0.00003")


@given(st.integers(min_value=0, max_value=10**24))
def test_format_usd_round_trips_exactly(pico: int) -> None:
    assert Decimal(format_usd(pico).decode()) == Decimal(pico).scaleb(-12)
