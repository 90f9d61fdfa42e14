"""`bedrock-spend logs`: parsing and tailing an entity's group (moto in-process)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.commands import logs as logs_command
from tests.mirror_support import now

pytestmark = pytest.mark.functional


@pytest.fixture
def logs_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("logs")


def test_given_the_logs_command_when_parsed_then_arguments_and_func_are_set() -> None:
    parser = argparse.ArgumentParser()
    logs_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["logs", "tenant", "acme", "--limit", "5", "--follow"])
    assert (args.entity_type, args.entity_id, args.limit, args.follow) == ("tenant", "acme", 5, True)
    assert args.func is logs_command.run


def test_given_a_group_with_events_when_tailed_then_the_last_n_are_printed_then_new_ones_followed(
    logs_client: Any,
) -> None:
    # Given a mirrored group with 5 events in two daily streams
    group = "/bedrock/tenants/acme"
    logs_client.create_log_group(logGroupName=group)
    start = int(now().timestamp() * 1000) - 60_000
    for stream, offsets in (("d1", [0, 1, 2]), ("d2", [3, 4])):
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
        logs_client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": start + o, "message": f"m{o}"} for o in offsets],
        )
    printed: list[str] = []

    def add_one(_: float) -> None:  # a new event arrives while following
        logs_client.put_log_events(
            logGroupName=group, logStreamName="d2", logEvents=[{"timestamp": start + 10, "message": "m10"}]
        )

    # When
    count = logs_command.tail(
        logs_client, group, 3, follow=True, out=printed.append, sleep=add_one, max_polls=1
    )
    # Then
    assert printed == ["m2", "m3", "m4", "m10"] and count == 4
