"""The e2e tier: moto's server on 127.0.0.1:4566 (reused when something already answers there),
started once per session and stopped at the end; state is reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.local import emulator
from infra.local.clients import Clients
from infra.local.pipeline import LocalPipeline

PORT = int(os.environ.get("BEDROCK_SPEND_E2E_PORT", emulator.DEFAULT_PORT))


@pytest.fixture(scope="session")
def emu() -> Iterator[emulator.Emulator]:
    server = emulator.start(port=PORT)
    yield server
    server.stop()


@pytest.fixture()
def pipeline(emu: emulator.Emulator) -> Iterator[LocalPipeline]:
    emulator.reset(emu)
    with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
        yield pipe
