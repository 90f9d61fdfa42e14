"""Spend-record fixtures for the analytics tests, made by the real transform.

Bedrock invocation logs go through :class:`transform.process.Transformer` (built from the default
:class:`transform.settings.Settings`, as ``transform/runtime.py`` does) inside CloudWatch Logs
envelopes; re-puts are fed back like Firehose would, and the ``Ok`` records are written to the hive
layout ``spend/entity_type=/entity_id=/dt=/`` — gzip and plain objects alternately.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from transform.pricing import Catalogue
from transform.process import Transformer
from transform.routing import load_router
from transform.settings import Settings

ACCOUNT = "123456789012"
TENANT_ACME = f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/session-1"
TENANT_GLOBEX = f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-globex/globex-app"
USER_JANE = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/jane.doe@example.com"
USER_BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/bob@example.com"
CI_MAIN = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-main/build-7"
STRANGER = "arn:aws:sts::999999999999:assumed-role/tenant-acme/x"  # foreign account: dead letter

SONNET = "anthropic.claude-3-5-sonnet-20241022-v2:0"  # in 3.0, out 15.0, cr 0.3, cw 3.75 per 1M
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"  # in 0.8, out 4.0, cr 0.08, cw 1.0 per 1M
OPUS = "anthropic.claude-3-opus-20240229-v1:0"  # in 15.0, out 75.0 per 1M


def invocation(
    request_id: str,
    when: str,
    arn: str,
    model: str,
    input_tokens: int,
    output_tokens: int | None,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> str:
    """One Bedrock ``ModelInvocationLog`` message."""
    inp: dict[str, Any] = {"inputContentType": "application/json", "inputTokenCount": input_tokens}
    if cache_read is not None:
        inp["cacheReadInputTokenCount"] = cache_read
    if cache_write is not None:
        inp["cacheWriteInputTokenCount"] = cache_write
    out: dict[str, Any] = {"outputContentType": "application/json"}
    if output_tokens is not None:
        out["outputTokenCount"] = output_tokens
    return json.dumps(
        {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": when,
            "accountId": ACCOUNT,
            "identity": {"arn": arn},
            "region": "us-east-1",
            "requestId": request_id,
            "operation": "Converse",
            "modelId": model,
            "input": inp,
            "output": out,
        }
    )


#: (request_id, timestamp, principal, model, input, output, cache_read, cache_write)
EVENTS: list[tuple[str, str, str, str, int, int | None, int | None, int | None]] = [
    ("r-01", "2025-11-03T10:00:00Z", TENANT_ACME, SONNET, 1000, 500, None, None),
    ("r-02", "2025-11-03T11:00:00Z", TENANT_ACME, SONNET, 2000, 100, 10000, 4000),
    ("r-03", "2025-11-04T09:30:00Z", TENANT_ACME, HAIKU, 1234, 567, None, None),
    ("r-04", "2025-11-04T12:00:00Z", TENANT_GLOBEX, OPUS, 3000, 50, None, None),
    ("r-05", "2025-11-05T08:00:00Z", USER_JANE, OPUS, 100, 900, None, None),
    ("r-06", "2025-11-05T08:05:00Z", USER_JANE, HAIKU, 777, 333, 1000, None),
    ("r-07", "2025-11-05T09:00:00Z", USER_BOB, SONNET, 10, 20, None, None),
    ("r-08", "2025-11-06T00:00:01Z", CI_MAIN, HAIKU, 50000, 1000, None, None),
    ("r-09", "2025-11-06T13:00:00Z", STRANGER, SONNET, 400, 40, None, None),
    ("r-10", "2025-11-06T14:00:00Z", TENANT_ACME, "acme.unknown-model-v9", 100, 10, None, None),
    ("r-11", "2025-10-31T23:59:59Z", TENANT_ACME, SONNET, 1, 1, None, None),  # previous month
]
#: An event that is not a valid invocation log (becomes an ``invalid`` record).
INVALID_MESSAGE = '{"schemaType": "ModelInvocationLog", "oops": true}'


@dataclass
class Written:
    """The files written and the spend records they hold (unique records, before duplication)."""

    root: Path
    records: list[dict[str, Any]]
    files: list[Path]


def _envelope(messages: list[tuple[str, str]]) -> str:
    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/aws/bedrock/modelinvocations",
        "logStream": "aws/bedrock/modelinvocations",
        "subscriptionFilters": ["bedrock-spend"],
        "logEvents": [{"id": eid, "timestamp": 1762164000000, "message": m} for eid, m in messages],
    }
    return base64.b64encode(gzip.compress(json.dumps(envelope).encode())).decode()


def transformer() -> Transformer:
    """The transform as the Lambda builds it from its default settings."""
    settings = Settings()
    return Transformer(load_router(settings.routing_file), Catalogue.load(settings.pricing_file))


def run_transform(messages: list[tuple[str, str]], batch: int = 4) -> list[tuple[dict[str, str], bytes]]:
    """``(partition keys, data)`` of every Ok record, re-puts fed back until none remain."""
    tf = transformer()
    records = [
        {
            "recordId": f"rec-{i}",
            "approximateArrivalTimestamp": 1762164000000,
            "data": _envelope(messages[i : i + batch]),
        }
        for i in range(0, len(messages), batch)
    ]
    out: list[tuple[dict[str, str], bytes]] = []
    for _ in range(5):
        outcome = tf.process({"records": records})
        for rec in outcome.response()["records"]:
            assert rec["result"] in ("Ok", "Dropped"), rec
            if rec["result"] == "Ok":
                out.append((rec["metadata"]["partitionKeys"], base64.b64decode(rec["data"])))
        if not outcome.reputs:
            return out
        records = [
            {
                "recordId": f"reput-{i}",
                "approximateArrivalTimestamp": 1762164000000,
                "data": base64.b64encode(p).decode(),
            }
            for i, p in enumerate(outcome.reputs)
        ]
    raise AssertionError("re-puts did not settle")


def write_fixture(root: Path, duplicate: bool = False) -> Written:
    """Write the standard fixture under ``root/spend/...``; ``duplicate`` delivers every object twice."""
    messages = [(f"evt-{e[0]}", invocation(*e)) for e in EVENTS]
    messages.append(("evt-bad", INVALID_MESSAGE))
    records: list[dict[str, Any]] = []
    files: list[Path] = []
    for n, (keys, data) in enumerate(run_transform(messages)):
        folder = (
            root
            / "spend"
            / f"entity_type={keys['entity_type']}"
            / f"entity_id={keys['entity_id']}"
            / f"dt={keys['dt']}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        copies = 2 if duplicate else 1
        for copy in range(copies):
            name = f"bedrock-spend-{n:03d}-{copy}"
            path = folder / (name + ".gz") if (n + copy) % 2 == 0 else folder / name
            path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
            files.append(path)
        records.extend(json.loads(line, parse_float=Decimal) for line in data.splitlines() if line.strip())
    return Written(root, records, files)


def write_records(root: Path, records: list[dict[str, Any]], name: str = "part-0") -> None:
    """Write hand-made spend records (already valid v1 records) to the hive layout, plain NDJSON."""
    for rec in records:
        folder = (
            root
            / "spend"
            / f"entity_type={rec['entity_type']}"
            / f"entity_id={rec['entity_id']}"
            / f"dt={rec['dt']}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")


def dedupe(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reference de-duplication (by request_id, else log_event_id) for expected totals."""
    seen: set[str] = set()
    unique: list[dict[str, Any]] = []
    for rec in records:
        key = rec["request_id"] or (f"log_event:{rec['log_event_id']}" if rec["log_event_id"] else None)
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        unique.append(rec)
    return unique
