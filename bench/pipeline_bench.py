"""End-to-end events/s of the local pipeline: PutLogEvents → subscription → Firehose engine with the
transform → S3 → SQS → mirror → log groups, on a private moto server (a free port, never 4566)."""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_pipeline() -> Iterator[Any]:
    """A :class:`~infra.local.pipeline.LocalPipeline` on a moto server of its own, stopped afterwards."""
    from infra.local import emulator
    from infra.local.clients import Clients
    from infra.local.pipeline import LocalPipeline

    emu = emulator.start(port=free_port(), log_dir=Path(tempfile.mkdtemp(prefix="bench-moto-")))
    try:
        with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
            yield pipe
    finally:
        emu.stop()


def throughput(events: int = 20_000, body_bytes: int = 300, chunk: int = 5_000) -> dict[str, float]:
    """Events/s end to end for ``events`` generated invocations (written in chunks, then settled)."""
    from infra.local.traffic import TrafficConfig, generate

    logging.disable(logging.WARNING)
    traffic = generate(TrafficConfig(events=events, seed=5, body_bytes=body_bytes, days=1))
    with private_pipeline() as pipe:
        started = time.perf_counter()
        for i in range(0, len(traffic), chunk):
            pipe.write_events(traffic[i : i + chunk])
            pipe.pump()
        pipe.settle()
        elapsed = time.perf_counter() - started
        records = pipe.engine.stats.records_in
    return {"events": events, "seconds": elapsed, "events_per_second": events / elapsed, "records": records}


if __name__ == "__main__":
    figures = throughput()
    print(
        f"local pipeline: {figures['events']:,} events in {figures['seconds']:.1f} s = "
        f"{figures['events_per_second']:,.0f} events/s end to end"
    )
