"""Every emitted spend record validates against the JSON Schema and the Avro schema (fastavro)."""

from __future__ import annotations

import base64
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import jsonschema

from infra.local.traffic import TrafficConfig, generate
from tests.builders import envelope, firehose_event
from transform.process import Transformer
from transform.record import FIELDS

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MONEY = (
    "input_cost_usd",
    "output_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "estimated_cost_usd",
)


def emitted(transformer: Transformer) -> list[dict[str, Any]]:
    messages = [m for _, m in generate(TrafficConfig(events=600, seed=3, body_bytes=200, invalid_rate=0.05))]
    datas = [gzip.compress(json.dumps(envelope(messages[i : i + 50])).encode()) for i in range(0, 600, 50)]
    outcome = transformer.process(firehose_event(datas))
    second = transformer.process(firehose_event(outcome.reputs))
    lines = []
    for out in (outcome, second):
        for rec in out.response()["records"]:
            if rec["result"] == "Ok":
                lines += base64.b64decode(rec["data"]).splitlines()
    assert len(lines) == 600
    # money is parsed exactly, never through float
    records = [json.loads(line, parse_float=Decimal) for line in lines]
    for record in records:  # a JSON number is a decimal; ints like 0 become Decimal too
        record.update({k: Decimal(record[k]) for k in MONEY if record[k] is not None})
    return records


def test_records_validate(transformer: Transformer) -> None:
    records = emitted(transformer)
    json_schema = json.loads((SCHEMAS / "spend_record.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(json_schema)
    avro = fastavro.parse_schema(json.loads((SCHEMAS / "spend_record.avsc").read_text()))
    kinds = {r["entity_type"] for r in records}
    assert {"tenant", "user", "ci", "demo", "unattributed", "invalid"} <= kinds
    for record in records:
        assert tuple(record) == FIELDS
        plain = json.loads(json.dumps(record, default=float))
        errors = list(validator.iter_errors(plain))
        assert not errors, errors[0].message
        assert fastavro.validate(record, avro, raise_errors=True)
    buffer = io.BytesIO()
    fastavro.writer(buffer, avro, records)
    buffer.seek(0)
    back = list(fastavro.reader(buffer))
    assert sum(r["estimated_cost_usd"] or 0 for r in back) == sum(
        r["estimated_cost_usd"] or 0 for r in records
    )
