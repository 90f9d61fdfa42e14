"""The e2e tier: moto's server on 127.0.0.1:4566 (``BEDROCK_SPEND_E2E_PORT`` to move it), started once
per session and stopped at the end; reused when something already answers there. State is reset
before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import emulator
from infra.local.clients import Clients
from infra.local.pipeline import LocalPipeline

PORT = int(os.environ.get("BEDROCK_SPEND_E2E_PORT", emulator.DEFAULT_PORT))


@pytest.fixture(scope="session")
def session_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator.Emulator]:
    server = emulator.start(port=PORT, log_dir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def emu(session_emulator: emulator.Emulator) -> emulator.Emulator:
    emulator.reset(session_emulator)
    return session_emulator


@pytest.fixture()
def pipeline(emu: emulator.Emulator) -> Iterator[LocalPipeline]:
    with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
        yield pipe


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "landed"
