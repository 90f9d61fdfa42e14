"""The e2e tier: a private moto server (a free port, never 4566, which other sessions use) for the
whole session, reset between tests, and helpers to run the local pipeline and read what landed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import emulator


def free_port() -> int:
    """A TCP port nobody listens on (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def private_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator.Emulator]:
    emu = emulator.start(port=free_port(), log_dir=tmp_path_factory.mktemp("moto"))
    assert emu.owned, "the private port was taken by someone else"
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture()
def emu(private_emulator: emulator.Emulator) -> emulator.Emulator:
    emulator.reset(private_emulator)
    return private_emulator


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "landed"
