"""The mirror benchmark stays within its target (calls <= 1.05 x the minimum)."""

from __future__ import annotations

import pytest

from bench.mirror_bench import bench_mirror_calls

pytestmark = pytest.mark.functional


def test_given_the_benchmark_records_when_mirrored_then_calls_are_within_5_percent_of_the_minimum() -> None:
    # Given 20k mixed records over 50 entities / When mirrored on moto
    calls, minimum = bench_mirror_calls()
    # Then
    assert minimum > 50
    assert calls <= 1.05 * minimum
