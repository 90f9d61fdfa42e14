"""``bedrock-spend logs ENTITY_TYPE ENTITY_ID [--follow] [--limit N]``: tail an entity's mirror log group.

The group is the one the mirror writes to, from the same routing configuration
(``Router.log_group_for``); ENTITY_ID is the safe entity id (as in the S3 partition), or a raw name
with ``--name`` (encoded with :func:`transform.names.safe_name`). Events are read with
``FilterLogEvents`` (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html)
across all of the group's daily streams; the endpoint honours ``AWS_ENDPOINT_URL`` (local stack).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from transform.names import safe_name
from transform.routing import load_router
from transform.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``logs`` sub-command."""
    parser = subparsers.add_parser("logs", help="tail an entity's mirrored spend records")
    parser.add_argument("entity_type", metavar="ENTITY_TYPE")
    parser.add_argument("entity_id", metavar="ENTITY_ID")
    parser.add_argument("--name", action="store_true", help="ENTITY_ID is a raw name; encode it")
    parser.add_argument("--limit", type=int, default=20, help="print the last N events (default 20)")
    parser.add_argument("--follow", "-f", action="store_true", help="keep polling for new events")
    parser.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def tail(
    client: Any,
    group: str,
    limit: int,
    follow: bool = False,
    interval: float = 2.0,
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    max_polls: int | None = None,
) -> int:
    """Print the last ``limit`` events of ``group``; with ``follow``, then every new one. Returns count."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    while True:
        response = client.filter_log_events(**kwargs)
        events.extend(response.get("events") or [])
        token = response.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    events.sort(key=lambda e: (e["timestamp"], e.get("eventId", "")))
    shown = events[-limit:] if limit > 0 else []
    for event in shown:
        out(str(event["message"]).rstrip("\n"))
    printed = len(shown)
    seen = {e.get("eventId") for e in events}
    last = events[-1]["timestamp"] if events else 0
    polls = 0
    while follow and (max_polls is None or polls < max_polls):
        polls += 1
        sleep(interval)
        response = client.filter_log_events(logGroupName=group, startTime=last)
        fresh = [e for e in response.get("events") or [] if e.get("eventId") not in seen]
        for event in sorted(fresh, key=lambda e: e["timestamp"]):
            out(str(event["message"]).rstrip("\n"))
            seen.add(event.get("eventId"))
            last = max(last, int(event["timestamp"]))
            printed += 1
    return printed


def run(args: argparse.Namespace) -> int:
    """Resolve the group and tail it."""
    import boto3
    from botocore.exceptions import ClientError

    settings = Settings.from_env()
    router = load_router(settings.routing_file, settings.allowed_accounts)
    if args.entity_type not in router.entity_types:
        print(
            f"unknown entity type {args.entity_type!r}; known: {', '.join(router.entity_types)}",
            file=sys.stderr,
        )
        return 2
    entity_id = safe_name(args.entity_id) if args.name else args.entity_id
    group = router.log_group_for(args.entity_type, entity_id)
    try:
        tail(boto3.client("logs"), group, args.limit, args.follow, args.interval)
    except ClientError as exc:
        print(f"{group}: {exc.response.get('Error', {}).get('Code', exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
