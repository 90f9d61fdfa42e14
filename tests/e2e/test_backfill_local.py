"""E2E: backfill on the local stack (moto's server on a private port + the project's Firehose engine).

Given invocation history in the Bedrock log group that was never delivered live,
when a backfill is interrupted after some pages and then resumed from its checkpoint,
then every event lands exactly once under spend/ — through the delivery stream and with --direct.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.backfill import Backfill, DirectSink, LogGroupSource, Page, SinkResult, StreamSink, open_store
from infra.local import emulator
from infra.local.clients import Clients
from infra.local.pipeline import LocalPipeline
from infra.local.traffic import TrafficConfig, generate
from transform import codec

pytestmark = pytest.mark.e2e

EVENTS = 450
PAGE = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalPipeline, Clients, list[str]]]:
    emu = emulator.start(port=_free_port(), log_dir=tmp_path_factory.mktemp("moto"))
    try:
        with LocalPipeline(Clients(endpoint_url=emu.endpoint_url)) as pipe:
            end = datetime.now(UTC).replace(microsecond=0)
            events = generate(TrafficConfig(events=EVENTS, seed=11, days=2, body_bytes=300, end=end))
            pipe.write_events(events)  # history: written to the log group, never pumped live
            clients = Clients(endpoint_url=emu.endpoint_url, overrides={"firehose": pipe.api.endpoint_url})
            yield pipe, clients, [m for _, m in events]
    finally:
        emu.stop()


class Interrupted(RuntimeError):
    pass


class StopAfter:
    """A source that raises when asked for page ``n + 1`` (a crash between pages)."""

    def __init__(self, inner: LogGroupSource, stop_at: int) -> None:
        self.inner, self.stop_at = inner, stop_at
        self.total = inner.total

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def pages(self, position: Mapping[str, Any] | None) -> Iterator[Page]:
        for n, page in enumerate(self.inner.pages(position)):
            if n == self.stop_at:
                raise Interrupted(f"stopped before page {n + 1}")
            yield page


class CrashAfterSend:
    """A sink that delivers page ``n`` and then crashes before the checkpoint is saved."""

    def __init__(self, inner: DirectSink, crash_on: int) -> None:
        self.inner, self.crash_on, self.sent = inner, crash_on, 0
        self.mode = inner.mode

    def send(self, page: Page) -> SinkResult:
        result = self.inner.send(page)
        self.sent += 1
        if self.sent == self.crash_on:
            raise Interrupted("crashed after delivering, before the checkpoint")
        return result


NOW = int(datetime.now(UTC).timestamp() * 1000)


def _source(pipe: LocalPipeline, clients: Clients) -> LogGroupSource:
    return LogGroupSource(
        clients("logs"),
        pipe.resources.bedrock_log_group,
        NOW - 3 * 86_400_000,
        NOW + 600_000,
        page_size=PAGE,
        owner=pipe.resources.account_id,
    )


def _landed(clients: Clients, bucket: str, prefix: str) -> list[dict[str, Any]]:
    s3 = clients("s3")
    records: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            data = codec.gunzip(body) if codec.is_gzip(body) else body
            records.extend(json.loads(line) for line in data.splitlines() if line.strip())
    return records


def _expected_request_ids(messages: list[str]) -> Counter[str]:
    ids: Counter[str] = Counter()
    for message in messages:
        try:
            ids[json.loads(message)["requestId"]] += 1
        except ValueError:
            continue  # truncated on purpose: becomes an invalid record
    return ids


def test_stream_backfill_interrupted_and_resumed_delivers_each_event_once(
    stack: tuple[LocalPipeline, Clients, list[str]], tmp_path: Path
) -> None:
    pipe, clients, messages = stack
    store = open_store(str(tmp_path / "checkpoint.json"))
    sink = StreamSink(clients("firehose"), pipe.resources.delivery_stream_name)

    with pytest.raises(Interrupted):
        Backfill(StopAfter(_source(pipe, clients), 2), sink, store).run()
    saved = store.load()
    assert saved is not None and not saved.done
    assert saved.counts.pages == 2 and saved.counts.events == 2 * PAGE

    state = Backfill(_source(pipe, clients), sink, store).run()
    pipe.engine.flush()

    assert state.done and state.runs == 2 and state.counts.events == EVENTS
    records = _landed(clients, pipe.resources.bucket_name, pipe.resources.spend_prefix)
    assert len(records) == EVENTS  # nothing lost, nothing twice
    got = Counter(r["request_id"] for r in records if r["request_id"])
    assert got == _expected_request_ids(messages)
    invalid = [r for r in records if r["entity_type"] == "invalid"]
    assert len(invalid) == EVENTS - sum(got.values()) and len({r["log_event_id"] for r in invalid}) == len(
        invalid
    )
    # A finished checkpoint: running again sends nothing.
    again = Backfill(_source(pipe, clients), sink, store).run()
    assert again.counts == state.counts


def test_direct_backfill_crash_after_write_is_overwritten_on_resume(
    stack: tuple[LocalPipeline, Clients, list[str]], tmp_path: Path
) -> None:
    pipe, clients, messages = stack
    from tests.analytics_data import transformer

    prefix = "direct-test/spend/"
    direct = DirectSink(clients("s3"), pipe.resources.bucket_name, transformer(), spend_prefix=prefix)
    store = open_store(str(tmp_path / "direct.json"))

    with pytest.raises(Interrupted):
        Backfill(_source(pipe, clients), CrashAfterSend(direct, 3), store).run()
    assert (saved := store.load()) is not None and saved.counts.pages == 2  # page 3 written, not recorded

    state = Backfill(_source(pipe, clients), direct, store).run()
    assert state.done and state.counts.events == EVENTS
    records = _landed(clients, pipe.resources.bucket_name, prefix)
    assert len(records) == EVENTS  # page 3 was written twice to the same keys
    assert Counter(r["request_id"] for r in records if r["request_id"]) == _expected_request_ids(messages)
    keys = [
        o["Key"]
        for p in clients("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=pipe.resources.bucket_name, Prefix=prefix)
        for o in p.get("Contents", [])
    ]
    assert all(k.rsplit("/", 1)[1].startswith("backfill-") and k.endswith(".gz") for k in keys)
