"""Unit tests of PutLogEvents packing and screening (no network)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transform.logs_writer import (
    EVENT_OVERHEAD_BYTES,
    MAX_AGE_MS,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_FUTURE_MS,
    MAX_SPAN_MS,
    LogEvent,
    _rejected_indexes,
    min_calls,
    pack,
    screen,
    tag_value,
    validate_log_group_name,
)

HOUR = 3600 * 1000


def sized(ts: int, size: int, tag: int = 0) -> LogEvent:
    """An event whose batch cost is exactly ``size`` (ASCII message)."""
    body = f"{tag}:".ljust(size - EVENT_OVERHEAD_BYTES, "x")
    return LogEvent.of(ts, body)


def valid(batch: list[LogEvent]) -> bool:
    return (
        0 < len(batch) <= MAX_BATCH_EVENTS
        and sum(e.size for e in batch) <= MAX_BATCH_BYTES
        and all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(batch))
        and batch[-1].timestamp - batch[0].timestamp < MAX_SPAN_MS
    )


def fewest_contiguous(events: list[LogEvent]) -> int:
    """Exact minimum number of valid contiguous batches of the sorted events (dynamic programming)."""
    ordered = sorted(events, key=lambda e: e.timestamp)
    best = [0] + [10**9] * len(ordered)
    for end in range(1, len(ordered) + 1):
        for start in range(end - 1, -1, -1):
            if not valid(ordered[start:end]):
                break
            best[end] = min(best[end], best[start] + 1)
    return best[-1]


events_strategy = st.lists(
    st.builds(
        sized,
        st.integers(min_value=0, max_value=3 * 24 * HOUR),
        st.integers(min_value=EVENT_OVERHEAD_BYTES + 3, max_value=MAX_EVENT_BYTES),
        st.integers(min_value=0, max_value=10**6),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_given_any_events_when_packed_then_every_batch_is_within_every_limit_and_order_is_kept(
    events: list[LogEvent],
) -> None:
    # When
    batches = pack(events)
    # Then: limits (bytes incl. 26/event, count, chronological, < 24 h span) hold for every batch
    assert all(valid(b) for b in batches)
    # and nothing is lost, duplicated or reordered (stable chronological order)
    flat = [e for b in batches for e in b]
    assert flat == sorted(events, key=lambda e: e.timestamp)
    # and the number of calls is the minimum for contiguous batches, never below the lower bound
    assert len(batches) == fewest_contiguous(events)
    assert len(batches) >= min_calls(events)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=35_000), st.integers(min_value=0, max_value=5))
def test_given_many_small_events_when_packed_then_10000_per_call(count: int, spread_hours: int) -> None:
    # Given many tiny events within a few hours
    events = [LogEvent(i * spread_hours * HOUR // count, "x", 27) for i in range(count)]
    # When
    batches = pack(events)
    # Then the count limit drives the packing, and it is optimal
    assert all(valid(b) for b in batches)
    assert len(batches) == -(-count // MAX_BATCH_EVENTS) == min_calls(events)


def test_given_events_spanning_more_than_a_day_when_packed_then_no_batch_spans_24_hours() -> None:
    # Given events exactly 24 h apart (the boundary itself is never sent in one call)
    events = [LogEvent(0, "a", 27), LogEvent(MAX_SPAN_MS - 1, "b", 27), LogEvent(MAX_SPAN_MS, "c", 27)]
    # When / Then
    assert [[e.message for e in b] for b in pack(events)] == [["a", "b"], ["c"]]


def test_given_multibyte_messages_when_sized_then_utf8_bytes_are_counted() -> None:
    assert LogEvent.of(0, "é€😀").size == 2 + 3 + 4 + EVENT_OVERHEAD_BYTES


def test_given_an_oversized_event_when_packed_then_it_is_refused() -> None:
    with pytest.raises(ValueError):
        pack([sized(0, MAX_EVENT_BYTES + 1)])


def test_given_events_outside_the_accepted_window_when_screened_then_each_is_rejected_with_a_reason() -> None:
    now = 100 * 24 * HOUR
    events = [
        LogEvent(now - MAX_AGE_MS - 1, "old", 30),
        LogEvent(now - 8 * 24 * HOUR, "expired", 34),
        LogEvent(now + MAX_FUTURE_MS + 1, "new", 30),
        sized(now, MAX_EVENT_BYTES + 1),
        LogEvent(now, "ok", 29),
    ]
    ok, rejected = screen(events, now, retention_days=7)
    assert [e.message for e in ok] == ["ok"]
    assert [r.reason for r in rejected] == ["too_old", "expired", "too_new", "too_large"]


def test_given_rejected_log_events_info_when_read_then_aws_index_semantics_apply() -> None:
    # tooOld/expired …EndIndex are exclusive ends, tooNewLogEventStartIndex is inclusive
    info = {"tooOldLogEventEndIndex": 2, "expiredLogEventEndIndex": 3, "tooNewLogEventStartIndex": 5}
    assert _rejected_indexes(info, 6) == [(0, "too_old"), (1, "too_old"), (2, "expired"), (5, "too_new")]
    assert _rejected_indexes({}, 3) == []


@pytest.mark.parametrize("name", ["aws/x", "", "/bedrock/a b", "/bedrock/é", "/" + "a" * 512])
def test_given_an_invalid_group_name_when_validated_then_refused(name: str) -> None:
    with pytest.raises(ValueError):
        validate_log_group_name(name)


def test_given_an_entity_id_with_escapes_when_tagged_then_hash_becomes_colon() -> None:
    assert tag_value("jane.doe#40example.com") == "jane.doe:40example.com"
