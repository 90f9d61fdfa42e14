"""Application inference profiles: GetInferenceProfile / ListTagsForResource through botocore's Stubber.

Responses are real-shaped (tests/events/bedrock-*.json); every look-up must happen at most once per ARN.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.builders import invocation, load_event
from transform.envelope import Decoded, LogEvent
from transform.pricing import Catalogue, usd_decimal
from transform.process import Transformer
from transform.profiles import ProfileResolver, parse_profile_arn, price_scope
from transform.routing import Router, router_from_config
from transform.settings import Settings

ACCT = "123456789012"
PROFILE = f"arn:aws:bedrock:us-east-1:{ACCT}:application-inference-profile/a1b2c3d4e5f6"
FOREIGN = "arn:aws:bedrock:us-east-1:210987654321:application-inference-profile/f0f0f0f0f0f0"
K = Decimal(1000)


def profile_response(**changes: Any) -> dict[str, Any]:
    response = copy.deepcopy(load_event("bedrock-get-inference-profile-application"))
    response.update(changes)
    for key in ("createdAt", "updatedAt"):
        response[key] = datetime.fromisoformat(response[key])
    return response


def models(*arns: str) -> list[dict[str, str]]:
    return [{"modelArn": a} for a in arns]


@pytest.fixture()
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_profile_resolves_once_per_arn(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response("get_inference_profile", profile_response(), {"inferenceProfileIdentifier": PROFILE})
    resolver = ProfileResolver(client)
    assert resolver.model_for(PROFILE) == ("anthropic.claude-3-7-sonnet-20250219-v1:0", "geo")
    assert resolver.model_for(PROFILE) == ("anthropic.claude-3-7-sonnet-20250219-v1:0", "geo")
    assert resolver.calls == 1


@pytest.mark.parametrize(
    ("regions", "scope"),
    [
        ({"eu-central-1"}, "in_region"),
        ({"eu-west-1", "eu-central-1"}, "geo"),
        ({"us-east-1", "eu-west-1"}, "global"),
    ],
)
def test_price_scope_from_regions(regions: set[str], scope: str) -> None:
    assert price_scope(regions) == scope


def test_single_region_and_global_profiles(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    fm = "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    single = PROFILE.replace("a1b2c3d4e5f6", "000000000001")
    spread = PROFILE.replace("a1b2c3d4e5f6", "000000000002")
    stubber.add_response(
        "get_inference_profile",
        profile_response(models=models(f"arn:aws:bedrock:us-east-1::{fm}")),
        {"inferenceProfileIdentifier": single},
    )
    stubber.add_response(
        "get_inference_profile",
        profile_response(
            models=models(
                *(f"arn:aws:bedrock:{r}::{fm}" for r in ("us-east-1", "eu-west-1", "ap-northeast-1"))
            )
        ),
        {"inferenceProfileIdentifier": spread},
    )
    resolver = ProfileResolver(client)
    assert resolver.model_for(single) == ("anthropic.claude-sonnet-4-5-20250929-v1:0", "in_region")
    assert resolver.model_for(spread) == ("anthropic.claude-sonnet-4-5-20250929-v1:0", "global")


def test_failures_are_cached_and_never_guessed(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    mixed = PROFILE.replace("a1b2c3d4e5f6", "000000000003")
    stubber.add_client_error(
        "get_inference_profile",
        "AccessDeniedException",
        "not authorized",
        403,
        {"inferenceProfileIdentifier": PROFILE},
    )
    stubber.add_response(
        "get_inference_profile",
        profile_response(
            models=models(
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
                "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
            )
        ),
        {"inferenceProfileIdentifier": mixed},
    )
    resolver = ProfileResolver(client)
    assert resolver.model_for(PROFILE) is None
    assert resolver.model_for(PROFILE) is None
    assert resolver.model_for(mixed) is None
    assert resolver.model_for("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0") is None
    assert resolver.calls == 2


def test_clients_are_created_lazily_per_profile_region() -> None:
    made: list[str] = []

    def factory(region: str) -> Any:
        made.append(region)
        return object()

    resolver = ProfileResolver(client_factory=factory)
    assert made == []
    resolver.client_for("eu-west-1")
    resolver.client_for("eu-west-1")
    assert made == ["eu-west-1"]
    assert parse_profile_arn(PROFILE) is not None and parse_profile_arn(PROFILE).region == "us-east-1"  # type: ignore[union-attr]


def shipped_catalogue_raw() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(Settings().pricing_file.read_text())
    return raw


def test_catalogue_prices_an_application_profile_through_get_inference_profile(
    bedrock: tuple[Any, Stubber],
) -> None:
    client, stubber = bedrock
    stubber.add_response("get_inference_profile", profile_response(), {"inferenceProfileIdentifier": PROFILE})
    catalogue = Catalogue(shipped_catalogue_raw(), ProfileResolver(client))
    quote = catalogue.quote(PROFILE, "us-east-1", "2025-03-11")
    assert (quote.model, quote.scope, quote.status) == (
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "application_profile",
        "priced",
    )
    costs = catalogue.cost(quote, 4, 38, 0, 0)
    assert usd_decimal(costs.total) == Decimal(4) * Decimal("0.003") / K + Decimal(38) * Decimal("0.015") / K
    # Cached per (ARN, region, day) in the catalogue and per ARN in the resolver: no second call.
    assert catalogue.quote(PROFILE, "us-east-1", "2025-03-12").status == "priced"


def test_application_profile_of_new_claude_is_priced_at_its_scope(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    fm = "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    stubber.add_response(
        "get_inference_profile",
        profile_response(models=models(*(f"arn:aws:bedrock:{r}::{fm}" for r in ("us-east-1", "eu-west-1")))),
        {"inferenceProfileIdentifier": PROFILE},
    )
    catalogue = Catalogue(shipped_catalogue_raw(), ProfileResolver(client))
    quote = catalogue.quote(PROFILE, "us-east-1", "2025-11-02")
    costs = catalogue.cost(quote, 1000, 1000, None, None)
    assert usd_decimal(costs.total) == Decimal("0.003") + Decimal("0.015")  # the global rate


def test_unresolvable_profile_falls_back_to_the_configured_mapping(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_client_error("get_inference_profile", "ResourceNotFoundException", "gone", 404)
    raw = shipped_catalogue_raw()
    raw["application_profiles"] = {PROFILE: "us.amazon.nova-pro-v1:0"}
    catalogue = Catalogue(raw, ProfileResolver(client))
    explained = catalogue.explain(PROFILE, "us-east-1", "2025-03-11")
    assert explained["resolved_via"] == "application_profiles"
    assert (explained["model"], explained["price_scope"], explained["status"]) == (
        "amazon.nova-pro-v1:0",
        "geo",
        "priced",
    )


# -- routing by profile tag --------------------------------------------------------------------------


def tag_router(resolver: ProfileResolver, position: int = 0) -> Router:
    config: dict[str, Any] = json.loads(Settings().routing_file.read_text())
    config["rules"].insert(
        position,
        {
            "name": "tenant-profile",
            "entity_type": "tenant",
            "log_group_prefix": "/bedrock/tenants/",
            "profile_tag": "tenant",
            "entity_name": "{tag}",
        },
    )
    return router_from_config(config, profile_tags=resolver.tags_for)


def test_profile_tag_names_the_tenant(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response(
        "list_tags_for_resource",
        load_event("bedrock-list-tags-application-profile"),
        {"resourceARN": PROFILE},
    )
    resolver = ProfileResolver(client)
    router = tag_router(resolver)
    ci = f"arn:aws:sts::{ACCT}:assumed-role/ci-build/job-1"
    route = router.route(ci, ACCT, None, PROFILE)
    assert (route.entity_type, route.entity_name, route.rule) == ("tenant", "acme", "tenant-profile")
    assert route.log_group == "/bedrock/tenants/acme"
    # Another principal through the same profile: tags come from the cache, no second call.
    assert (
        router.route(f"arn:aws:sts::{ACCT}:assumed-role/demo-x/s1", ACCT, None, PROFILE).entity_name == "acme"
    )
    # Without a profile the ARN rules decide as before.
    assert router.route(ci, ACCT, None, "amazon.nova-pro-v1:0").entity_type == "ci"
    assert resolver.calls == 1


def test_arn_rules_before_the_profile_rule_win(bedrock: tuple[Any, Stubber]) -> None:
    client, _ = bedrock
    resolver = ProfileResolver(client)
    router = tag_router(resolver, position=1)  # after tenant-role
    route = router.route(f"arn:aws:sts::{ACCT}:assumed-role/tenant-globex/w1", ACCT, None, PROFILE)
    assert (route.entity_name, route.rule) == ("globex", "tenant-role")
    assert resolver.calls == 0  # never needed the tags


def test_foreign_profile_never_routes(bedrock: tuple[Any, Stubber]) -> None:
    client, _ = bedrock
    resolver = ProfileResolver(client)
    router = tag_router(resolver)
    route = router.route(f"arn:aws:sts::{ACCT}:assumed-role/analytics/x1", ACCT, None, FOREIGN)
    assert route.entity_type == "unattributed"
    assert resolver.calls == 0  # a foreign profile's tags are not even read


def test_untagged_or_unreadable_profile_falls_through(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    other = PROFILE.replace("a1b2c3d4e5f6", "000000000009")
    stubber.add_response(
        "list_tags_for_resource", {"tags": [{"key": "team", "value": "x"}]}, {"resourceARN": PROFILE}
    )
    stubber.add_client_error(
        "list_tags_for_resource", "AccessDeniedException", "no", 403, {"resourceARN": other}
    )
    router = tag_router(ProfileResolver(client))
    assert router.route(f"arn:aws:sts::{ACCT}:assumed-role/ci-a/j1", ACCT, None, PROFILE).entity_type == "ci"
    assert (
        router.route(f"arn:aws:sts::{ACCT}:assumed-role/x-y/j1", ACCT, None, other).entity_type
        == "unattributed"
    )


def test_transformer_routes_and_prices_the_application_profile_event(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    # Routing runs first (tags), then pricing (model).
    stubber.add_response(
        "list_tags_for_resource",
        load_event("bedrock-list-tags-application-profile"),
        {"resourceARN": PROFILE},
    )
    stubber.add_response("get_inference_profile", profile_response(), {"inferenceProfileIdentifier": PROFILE})
    resolver = ProfileResolver(client)
    transformer = Transformer(tag_router(resolver), Catalogue(shipped_catalogue_raw(), resolver))
    message = json.dumps(invocation("bedrock-converse-application-profile"))
    decoded = Decoded(kind="events", shape="bare-message", owner=ACCT)
    record, cost = transformer.event_record(LogEvent(message, "1", 0), decoded, "2025-03-11", ACCT)
    assert (record.entity_type, record.entity_id, record.model, record.inference_scope) == (
        "tenant",
        "acme",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "application_profile",
    )
    assert usd_decimal(cost) == Decimal(4) * Decimal("0.003") / K + Decimal(38) * Decimal("0.015") / K


def test_resolve_profiles_setting() -> None:
    from transform.settings import SettingsError

    assert Settings.from_env({}).resolve_profiles is False
    assert Settings.from_env({"BEDROCK_SPEND_RESOLVE_PROFILES": "true"}).resolve_profiles is True
    with pytest.raises(SettingsError, match="RESOLVE_PROFILES"):
        Settings.from_env({"BEDROCK_SPEND_RESOLVE_PROFILES": "maybe"})


def test_app_wires_the_resolver_only_when_enabled(bedrock: tuple[Any, Stubber]) -> None:
    from transform.runtime import TransformApp

    client, stubber = bedrock
    off = TransformApp(Settings())
    assert off.profiles is None and off.transformer.catalogue.profiles is None
    resolver = ProfileResolver(client)
    on = TransformApp(Settings(resolve_profiles=True), profiles=resolver)
    assert on.transformer.catalogue.profiles is resolver
    stubber.add_response("get_inference_profile", profile_response(), {"inferenceProfileIdentifier": PROFILE})
    assert on.transformer.catalogue.quote(PROFILE, "us-east-1", "2025-03-11").status == "priced"
