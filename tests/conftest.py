"""Shared fixtures: the shipped routing rules and pricing catalogue, and a transformer built from them."""

from __future__ import annotations

import pytest

from transform.pricing import Catalogue
from transform.process import Transformer
from transform.routing import Router, load_router
from transform.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def router(settings: Settings) -> Router:
    return load_router(settings.routing_file)


@pytest.fixture(scope="session")
def catalogue(settings: Settings) -> Catalogue:
    return Catalogue.load(settings.pricing_file)


@pytest.fixture()
def transformer(router: Router, catalogue: Catalogue) -> Transformer:
    return Transformer(router, catalogue)
