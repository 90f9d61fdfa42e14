"""The backfill loop: pages from a source → a sink, rate-limited, checkpointed after every page.

Guarantees:

* **No loss**: the checkpoint moves past a page only after the sink has delivered it; a run that
  stops (crash, Ctrl-C, expired credentials) resumes with the first page not yet recorded.
* **Re-runs are safe**: a page delivered but not yet checkpointed is delivered again on resume.
  Direct writes use deterministic keys, so that page's objects are overwritten; through the delivery
  stream the page's records are new Firehose records, and the analytics queries keep one spend record
  per ``request_id`` (invalid events: per ``log_event_id``), so totals do not change. The same holds
  for a backfill window that overlaps what the live subscription already delivered.
* **Rate limit**: ``max_events_per_second`` spaces pages so that the average event rate stays at or
  under the limit (a page of *n* events occupies *n / rate* seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from infra.backfill.checkpoint import Checkpoint, CheckpointStore, Counts
from infra.backfill.sinks import Sink
from infra.backfill.sources import Page, Source


class RateLimiter:
    """Spaces work so that ``units / elapsed`` stays at or below ``per_second``."""

    def __init__(
        self,
        per_second: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError("the rate must be positive")
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._free_at: float | None = None
        self.slept = 0.0

    def acquire(self, units: int) -> None:
        """Wait until ``units`` may be sent."""
        if self.per_second is None or units <= 0:
            return
        now = self._clock()
        start = now if self._free_at is None else max(now, self._free_at)
        wait = start - now
        if wait > 0:
            self._sleep(wait)
            self.slept += wait
        self._free_at = start + units / self.per_second


@dataclass
class PageDone:
    """Reported after each page (for progress bars and logs)."""

    page: Page
    counts: Counts
    total: int | None


class Backfill:
    """Runs one backfill from ``source`` into ``sink`` with checkpoints in ``store``."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        store: CheckpointStore | None = None,
        limiter: RateLimiter | None = None,
        on_page: Callable[[PageDone], None] | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.store = store
        self.limiter = limiter or RateLimiter(None)
        self.on_page = on_page

    def checkpoint(self, restart: bool = False) -> Checkpoint:
        """The checkpoint to continue from (a fresh one when there is none or ``restart``)."""
        identity = self.source.identity()
        stored = None if (restart or self.store is None) else self.store.load()
        if stored is None:
            return Checkpoint(source=identity, mode=self.sink.mode)
        stored.check(identity, self.sink.mode)
        return stored

    def run(self, restart: bool = False) -> Checkpoint:
        """Process every page not yet checkpointed; returns the final checkpoint."""
        state = self.checkpoint(restart)
        if state.done:
            return state
        state.runs += 1
        for page in self.source.pages(state.position):
            events = page.event_count
            self.limiter.acquire(events)
            result = self.sink.send(page)
            state.counts.add(
                Counts(
                    pages=1,
                    events=events,
                    records=result.records,
                    objects=result.objects,
                    failed=result.failed,
                    bytes=result.bytes,
                )
            )
            state.position = page.position
            if self.store is not None:
                self.store.save(state)
            if self.on_page is not None:
                self.on_page(PageDone(page, state.counts, self.source.total))
        state.done = True
        if self.store is not None:
            self.store.save(state)
        return state
