"""Routing: the shipped rules, spoofing attempts, trusted gateways, configuration errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from transform.routing import Router, RoutingConfigError, parse_principal, router_from_config
from transform.settings import Settings

ACCT = "123456789012"
STS = f"arn:aws:sts::{ACCT}:assumed-role"


def shipped_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(Settings().routing_file.read_text())
    return config


@pytest.mark.parametrize(
    ("arn", "etype", "name"),
    [
        (f"{STS}/tenant-acme/api", "tenant", "acme"),
        (
            f"{STS}/AWSReservedSSO_Developer_0f1e2d3c4b5a6978/jane.doe@example.com",
            "user",
            "jane.doe@example.com",
        ),
        (f"arn:aws:iam::{ACCT}:user/dheeraj", "user", "dheeraj"),
        (f"arn:aws:iam::{ACCT}:user/division/dev/jane", "user", "jane"),
        (f"{STS}/ci-checkout-service/build-1", "ci", "checkout-service"),
        (f"{STS}/demo-sales-poc/presenter", "demo", "sales-poc"),
        (f"{STS}/analytics-batch/job-1", "unattributed", ACCT),
        (f"arn:aws:iam::{ACCT}:root", "unattributed", ACCT),
        (f"arn:aws:sts::{ACCT}:federated-user/bob", "unattributed", ACCT),
        (f"arn:aws-cn:sts::{ACCT}:assumed-role/tenant-acme/api", "tenant", "acme"),
        (f"arn:aws-us-gov:sts::{ACCT}:assumed-role/tenant-acme/api", "tenant", "acme"),
        ("not-an-arn", "unattributed", "unknown"),
        (f"arn:aws:sts::{ACCT}:assumed-role/tenant-acme", "unattributed", ACCT),
    ],
)
def test_shipped_rules(router: Router, arn: str, etype: str, name: str) -> None:
    route = router.route(arn, ACCT)
    assert (route.entity_type, route.entity_name) == (etype, name)


def test_session_name_never_decides_a_tenant(router: Router) -> None:
    # Given a caller of tenant-acme's role naming its session after another tenant
    route = router.route(f"{STS}/tenant-acme/tenant-globex", ACCT)
    # Then the role decides
    assert (route.entity_type, route.entity_name) == ("tenant", "acme")
    # And a non-tenant role with a tenant-looking session name is not a tenant
    assert router.route(f"{STS}/analytics-batch/tenant-globex", ACCT).entity_type == "unattributed"


def test_foreign_account_never_routes_to_a_tenant(router: Router) -> None:
    route = router.route("arn:aws:sts::210987654321:assumed-role/tenant-acme/api", ACCT)
    assert (route.entity_type, route.entity_id) == ("unattributed", "210987654321")
    assert route.log_group == "/bedrock/unattributed"


def test_allowed_account_routes() -> None:
    router = router_from_config(shipped_config(), frozenset({"210987654321"}))
    route = router.route("arn:aws:sts::210987654321:assumed-role/tenant-acme/api", ACCT)
    assert (route.entity_type, route.entity_name) == ("tenant", "acme")


def test_untrusted_request_metadata_is_ignored(router: Router) -> None:
    route = router.route(f"{STS}/tenant-acme/api", ACCT, {"tenant": "globex"})
    assert route.entity_name == "acme"
    assert router.route(f"{STS}/analytics-batch/x1", ACCT, {"tenant": "globex"}).entity_type == "unattributed"


def gateway_router() -> Router:
    config = shipped_config()
    config["rules"].insert(
        0,
        {
            "name": "gateway",
            "entity_type": "tenant",
            "log_group_prefix": "/bedrock/tenants/",
            "principal_kind": "assumed-role",
            "match": {"role_name": "bedrock-gateway"},
            "metadata_key": "tenant",
            "entity_name": "{metadata}",
        },
    )
    return router_from_config(config)


def test_trusted_gateway_names_the_tenant() -> None:
    router = gateway_router()
    route = router.route(f"{STS}/bedrock-gateway/req-1", ACCT, {"tenant": "globex"})
    assert (route.entity_type, route.entity_name, route.rule) == ("tenant", "globex", "gateway")
    # Without the key the gateway itself is unattributed (no rule names it)
    assert router.route(f"{STS}/bedrock-gateway/req-1", ACCT, {}).entity_type == "unattributed"
    # Cached routes do not leak between metadata values
    assert router.route(f"{STS}/bedrock-gateway/req-1", ACCT, {"tenant": "acme"}).entity_name == "acme"
    # Another principal sending the key gets nothing from it
    assert router.route(f"{STS}/tenant-acme/req-1", ACCT, {"tenant": "globex"}).entity_name == "acme"


def test_gateway_metadata_is_sanitised() -> None:
    route = gateway_router().route(f"{STS}/bedrock-gateway/req-1", ACCT, {"tenant": "../../etc"})
    assert "/" not in route.entity_id and ".." not in route.entity_id
    assert route.log_group == "/bedrock/tenants/" + route.entity_id


def test_new_entity_type_is_one_rule() -> None:
    config = shipped_config()
    config["rules"].append(
        {
            "name": "agent-role",
            "entity_type": "agent",
            "log_group_prefix": "/bedrock/agents/",
            "principal_kind": "assumed-role",
            "match": {"role_name": "agent-(?P<agent>[A-Za-z0-9-]+)"},
            "entity_name": "{agent}",
        }
    )
    router = router_from_config(config)
    route = router.route(f"{STS}/agent-support-bot/s1", ACCT)
    assert (route.entity_type, route.entity_id, route.log_group) == (
        "agent",
        "support-bot",
        "/bedrock/agents/support-bot",
    )
    assert router.log_group_for("agent", "x") == "/bedrock/agents/x"
    assert "agent" in router.entity_types


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["rules"][0].update(log_group_prefix="/aws/x/"), "reserved"),
        (lambda c: c["rules"][0].update(log_group_prefix="bedrock/x"), "log_group_prefix"),
        (lambda c: c["rules"][0].update(entity_name="{nope}"), "placeholders"),
        (lambda c: c["rules"][0]["match"].update(role_name="("), "bad pattern"),
        (lambda c: c["rules"][0]["match"].update(color="x"), "unknown field"),
        (lambda c: c["rules"][1].update(name="tenant-role"), "unique"),
        (lambda c: c.update(schema_version=2), "schema_version"),
        (lambda c: c.update(allowed_accounts=["12"]), "allowed_accounts"),
        (lambda c: c["rules"][0].update(bogus=1), "unknown keys"),
    ],
)
def test_bad_configuration_is_rejected(mutate: Any, message: str) -> None:
    config = copy.deepcopy(shipped_config())
    mutate(config)
    with pytest.raises(RoutingConfigError, match=message):
        router_from_config(config)


def test_principal_parsing_is_strict() -> None:
    assert parse_principal(f"{STS}/role/session/extra").kind == "unknown"
    assert parse_principal(f"arn:aws:sts:us-east-1:{ACCT}:assumed-role/r/s1").kind == "unknown"
    assert parse_principal(f"{STS}/ro le/s1").kind == "unknown"
    assert parse_principal(f"arn:aws:iam::{ACCT}:role/service-role/x").kind == "role"
