"""Mirror packing benchmark: PutLogEvents calls made vs the minimum possible for the same records.

Runs the real mirror core (S3 read → route → pack → PutLogEvents) on moto in-process over a realistic
mixed set: 20,000 spend records over 50 entities (skewed: a few heavy tenants, many light users/CI/demos,
some unattributed and invalid), message sizes 600-1,500 bytes, event times over 36 hours (two ``dt``
days), in one gzip object per partition plus a few objects mixing partitions.

The minimum is taken per destination (log group, log stream), because one call writes one stream:
for each, the largest of total bytes / 1 MiB (26 bytes per event included), events / 10,000 and the
number of < 24 h windows — a lower bound no packing can beat (:func:`transform.logs_writer.min_calls`).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

ENTITIES = 50
RECORDS = 20_000


def _records(rng: random.Random) -> list[dict[str, Any]]:
    kinds = ["tenant"] * 10 + ["user"] * 25 + ["ci"] * 8 + ["demo"] * 5 + ["unattributed", "invalid"]
    entities = [(kind, f"{kind}-{i:02d}") for i, kind in enumerate(kinds[:ENTITIES])]
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(entities))]
    end = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for n in range(RECORDS):
        kind, entity = rng.choices(entities, weights)[0]
        when = end - timedelta(seconds=rng.uniform(0, 36 * 3600))
        size = rng.randint(600, 1500)
        rec: dict[str, Any] = {
            "schema_version": "1",
            "request_id": f"req-{n:06d}",
            "event_time": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "dt": when.date().isoformat(),
            "entity_type": kind,
            "entity_id": entity,
            "log_group": "/aws/bedrock/modelinvocations",
        }
        if kind == "invalid":
            rec["event_time"] = None
            rec["dt"] = end.date().isoformat()
        base = len(json.dumps(rec, separators=(",", ":")))
        rec["raw_message"] = "x" * max(0, size - base - 18)
        out.append(rec)
    return out


def bench_mirror_calls() -> tuple[int, int]:
    """Mirror the benchmark records on moto; return ``(PutLogEvents calls made, minimum possible)``."""
    import boto3
    from moto import mock_aws

    from transform.logs_writer import LogEvent, LogsWriter, min_calls
    from transform.mirror import Mirror, ObjectRef, arrival_ms, event_time_ms
    from transform.routing import load_router
    from transform.settings import Settings

    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
        os.environ.pop(var, None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    logging.getLogger("bedrock-spend-mirror").setLevel(logging.WARNING)
    rng = random.Random(20240601)
    records = _records(rng)
    partitions: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        partitions[(rec["entity_type"], rec["entity_id"], rec["dt"])].append(rec)
    settings = Settings()
    router = load_router(settings.routing_file)
    with mock_aws():
        s3 = boto3.client("s3")
        logs = boto3.client("logs")
        s3.create_bucket(Bucket="bench")
        keys = []
        mixed: list[dict[str, Any]] = []
        for (etype, eid, dt), recs in sorted(partitions.items()):
            if rng.random() < 0.1 and etype not in ("unattributed", "invalid"):
                mixed.extend(recs)  # some partitions arrive in one mixed object
                continue
            key = f"spend/entity_type={etype}/entity_id={eid}/dt={dt}/part.gz"
            body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs).encode()
            s3.put_object(Bucket="bench", Key=key, Body=gzip.compress(body, 1))
            keys.append(key)
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in mixed).encode()
        s3.put_object(Bucket="bench", Key="spend/mixed/part.gz", Body=gzip.compress(body, 1))
        keys.append("spend/mixed/part.gz")
        writer = LogsWriter(logs, retention_days=settings.log_retention_days)
        mirror = Mirror(router, writer, s3)
        for key in keys:
            mirror.mirror(ObjectRef("bench", key))
        calls = writer.calls["put_log_events"]
    now = datetime.now(UTC)
    dests: dict[tuple[str, str], list[LogEvent]] = defaultdict(list)
    for rec in records:
        line = json.dumps(rec, separators=(",", ":"))
        ts = event_time_ms(rec["event_time"]) if rec["event_time"] else arrival_ms(rec["dt"], now)
        dests[(router.log_group_for(rec["entity_type"], rec["entity_id"]), rec["dt"])].append(
            LogEvent.of(ts, line)
        )
    minimum = sum(min_calls(events) for events in dests.values())
    return calls, minimum


def main() -> None:
    """Print the benchmark figures."""
    calls, minimum = bench_mirror_calls()
    print(
        f"mirror: {RECORDS} records over {ENTITIES} entities -> {calls} PutLogEvents calls, "
        f"minimum {minimum}, ratio {calls / minimum:.3f} (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
