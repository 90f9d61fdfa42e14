"""The embedded AWS emulator: moto's server on 127.0.0.1:4566, the edge port LocalStack and
``awslocal``/``localstack-client`` use.

If something already answers there (a LocalStack, or a moto someone started), it is reused and left
running; otherwise moto's server is started as a child process, waited for, and stopped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566


class EmulatorError(RuntimeError):
    """The emulator could not be started or did not become healthy."""


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return False
    try:
        urllib.request.urlopen(f"http://{host}:{port}/", timeout=2)
    except urllib.error.HTTPError:
        return True  # an HTTP answer, even an error, is a live server
    except (urllib.error.URLError, OSError):
        return False
    return True


def is_moto(host: str, port: int) -> bool:
    """True when the server on ``host:port`` is moto (it has the ``/moto-api/`` endpoints)."""
    try:
        urllib.request.urlopen(f"http://{host}:{port}/moto-api/data.json", timeout=2)
    except (urllib.error.URLError, OSError):
        return False
    return True


@dataclass
class Emulator:
    """A running emulator; ``owned`` when this process started it (and will stop it)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    owned: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_dir: Path | None = None, timeout: float = 60.0
) -> Emulator:
    """Reuse whatever answers on ``host:port`` or start moto's server there and wait for health."""
    if _answers(host, port):
        return Emulator(host, port, owned=False)
    log_path = None
    stream: int | object = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"moto-{port}.log"
        stream = log_path.open("ab")
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        stdout=stream,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    emulator = Emulator(host, port, owned=True, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"moto server exited with {process.returncode} (see {log_path})")
        if _answers(host, port):
            return emulator
        time.sleep(0.2)
    emulator.stop()
    raise EmulatorError(f"moto server did not answer on {host}:{port} within {timeout:.0f}s")


def reset(emulator: Emulator) -> None:
    """Forget every resource (moto only; other emulators are left as they are)."""
    if is_moto(emulator.host, emulator.port):
        request = urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10)
