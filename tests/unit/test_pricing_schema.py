"""The shipped pricing catalogue against its JSON Schema, and the schema against the loader's rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from transform.pricing import Catalogue, PricingConfigError
from transform.settings import DATA_DIR

SCHEMA_PATH = DATA_DIR / "pricing.schema.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = load(SCHEMA_PATH)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture()
def shipped() -> dict[str, Any]:
    return load(DATA_DIR / "pricing.json")


def test_shipped_catalogue_is_valid(
    validator: jsonschema.Draft202012Validator, shipped: dict[str, Any]
) -> None:
    errors = sorted(validator.iter_errors(shipped), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    Catalogue(shipped)


def test_every_entry_names_a_listed_source(shipped: dict[str, Any]) -> None:
    for model, spec in shipped["models"].items():
        for entry in spec["prices"]:
            assert entry["source"] in shipped["sources"], model


def test_every_priced_model_is_not_also_listed_as_not_covered(shipped: dict[str, Any]) -> None:
    assert not set(shipped["models"]) & set(shipped["not_covered"])


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda c: c["models"]["amazon.nova-micro-v1:0"]["prices"][0].update(input=0.1), "input"),
        (lambda c: c["models"]["amazon.nova-micro-v1:0"]["prices"][0].update(input="1e-3"), "input"),
        (lambda c: c["models"]["amazon.nova-micro-v1:0"]["prices"][0].pop("source"), "prices"),
        (lambda c: c["models"]["amazon.nova-micro-v1:0"]["prices"][0].update(scopes=["moon"]), "scopes"),
        (lambda c: c["models"]["amazon.nova-micro-v1:0"]["prices"][0].update(unit_price="0.04"), "prices"),
        (
            lambda c: c["models"]["amazon.nova-canvas-v1:0"]["prices"].append(
                {
                    "effective_from": "2025-01-01",
                    "scopes": ["in_region"],
                    "regions": ["*"],
                    "source": "bedrock-pricing-page",
                    "input": "0.1",
                }
            ),
            "prices",
        ),
        (lambda c: c["models"]["amazon.nova-micro-v1:0"].update(colour="red"), "models"),
    ],
)
def test_schema_and_loader_reject_the_same_mistakes(
    validator: jsonschema.Draft202012Validator, shipped: dict[str, Any], mutate: Any, path: str
) -> None:
    broken = copy.deepcopy(shipped)
    mutate(broken)
    assert list(validator.iter_errors(broken)), "schema accepted a broken catalogue"
    with pytest.raises(PricingConfigError):
        Catalogue(broken)


def test_non_token_model_may_carry_a_unit_price(
    validator: jsonschema.Draft202012Validator, shipped: dict[str, Any]
) -> None:
    shipped["sources"]["test"] = "a test fixture, not a real price"
    shipped["models"]["amazon.nova-canvas-v1:0"]["prices"].append(
        {
            "effective_from": "2025-01-01",
            "scopes": ["in_region"],
            "regions": ["*"],
            "source": "test",
            "unit_price": "0.5",
        }
    )
    assert not list(validator.iter_errors(shipped))
    catalogue = Catalogue(shipped)
    quote = catalogue.quote("amazon.nova-canvas-v1:0", "us-east-1", "2025-06-01")
    assert quote.status == "not_token_priced" and quote.rates is None
    explained = catalogue.explain("amazon.nova-canvas-v1:0", "us-east-1", "2025-06-01")
    assert explained["rates"] == {"unit_price": "0.5"} and explained["rate_unit"] == "USD per images"
