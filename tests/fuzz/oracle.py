"""The invariants every fuzzed batch must satisfy, checked over the batch and all its re-puts.

:func:`settle` runs a batch the way Firehose does — the response, then the re-put payloads as a new
batch, until nothing is re-put — and :func:`check_batch` asserts:

1. every input ``recordId`` is answered exactly once, in order, with a valid result, and the response
   stays under the 6 MB budget; a first-pass ``ProcessingFailed`` only for data that cannot be decoded
   (and never for a record the generator left intact);
2. every ``Ok`` record carries one partition-key set, every line in it has exactly that key, and the
   key is safe: ``entity_id`` is ``[A-Za-z0-9._#-]{1,128}`` without ``..`` nor a leading ``.``, the
   mirror's log group (``Router.log_group_for``) is ``[.\\-_/#A-Za-z0-9]{1,512}`` not starting with
   ``aws/``, and the template's Firehose prefix evaluates to at most 512 characters;
3. conservation: every log event of a decodable record lands exactly once (no loss, no duplicate) and
   no event of a failed record lands; each re-put payload fits PutRecordBatch's 1,000 KiB;
4. no spoofed attribution: a tenant comes only from the role name (``tenant-<name>``) or from the
   trusted gateway's ``requestMetadata``; an SSO user only from Identity Center's role; never from a
   session name, a foreign account or untrusted metadata; ``entity_id`` is ``safe_name(entity_name)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.prefixes import MAX_EVALUATED_PREFIX_CHARS, evaluate_prefix
from tests.builders import ACCOUNT, ARRIVAL_MS, firehose_event
from tests.fuzz.strategies import ALLOWED, GATEWAY_ROLE, Batch
from transform import codec
from transform.envelope import Decoded, decode_record
from transform.names import safe_name
from transform.reput import MAX_RECORD_BYTES
from transform.routing import Router, parse_principal, router_from_config
from transform.settings import Settings

ENTITY_ID = re.compile(r"[A-Za-z0-9._#-]{1,128}")
ENTITY_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
LOG_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
DAY = re.compile(r"(20\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
SSO_ROLE = re.compile(r"AWSReservedSSO_[A-Za-z0-9+=,.@_-]+_[0-9a-f]{16}")
TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
#: The delivery stream's ``Prefix``, read from the template (the one source of names).
SPEND_PREFIX = re.findall(r'^\s+Prefix: "(spend/[^"]+)"', TEMPLATE.read_text(), re.M)[0]
RESPONSE_BUDGET = 6_000_000

#: One pass of the Lambda: ``event -> (response, re-put payloads)``.
Process = Callable[[dict[str, Any]], tuple[dict[str, Any], list[bytes]]]


def gateway_router() -> Router:
    """The shipped rules plus a trusted-gateway rule (first) and one allowed foreign account."""
    config: dict[str, Any] = json.loads(Settings().routing_file.read_text())
    config["rules"].insert(
        0,
        {
            "name": "gateway",
            "entity_type": "tenant",
            "log_group_prefix": "/bedrock/tenants/",
            "principal_kind": "assumed-role",
            "match": {"role_name": GATEWAY_ROLE},
            "metadata_key": "tenant",
            "entity_name": "{metadata}",
        },
    )
    return router_from_config(config, frozenset({ALLOWED}))


@dataclass
class Settled:
    """Everything that came out of a batch and its re-puts."""

    first_response: dict[str, Any]
    landed: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    failed_reput_lines: list[dict[str, Any]] = field(default_factory=list)
    passes: int = 0


def settle(process: Process, event: dict[str, Any], max_passes: int = 8) -> Settled:
    """Run ``event`` and its re-puts to the end, checking each response's record-level contract."""
    settled: Settled | None = None
    for n in range(max_passes):
        response, reputs = process(event)
        check_response(event, response)
        for payload in reputs:
            assert len(payload) <= MAX_RECORD_BYTES, f"re-put payload of {len(payload)} bytes"
        if settled is None:
            settled = Settled(response)
        settled.passes = n + 1
        for rec in response["records"]:
            if rec["result"] == "Ok":
                keys = rec["metadata"]["partitionKeys"]
                for line in base64.b64decode(rec["data"]).splitlines():
                    settled.landed.append((keys, json.loads(line)))
            elif rec["result"] == "ProcessingFailed" and n > 0:
                # a re-put record deferred too often: Firehose keeps it whole in the error prefix
                original = next(r["data"] for r in event["records"] if r["recordId"] == rec["recordId"])
                decoded = decode_record(base64.b64decode(original))
                assert decoded.kind == "reput"
                settled.failed_reput_lines += [json.loads(x) for x in decoded.reput_body.splitlines()]
        if not reputs:
            return settled
        event = firehose_event(reputs)
    raise AssertionError(f"re-puts did not settle within {max_passes} passes")


def check_response(event: dict[str, Any], response: dict[str, Any]) -> None:
    """Invariant 1 for one pass (and the shape of every Ok record)."""
    ids = [r["recordId"] for r in event["records"]]
    assert [r["recordId"] for r in response["records"]] == ids, "every recordId exactly once, in order"
    assert len(json.dumps(response)) < RESPONSE_BUDGET
    for rec in response["records"]:
        assert rec["result"] in ("Ok", "Dropped", "ProcessingFailed")
        if rec["result"] == "Ok":
            assert isinstance(rec["data"], str)
            assert set(rec["metadata"]["partitionKeys"]) == {"entity_type", "entity_id", "dt"}


def check_key(router: Router, keys: dict[str, str]) -> None:
    """Invariant 2: the partition key is a safe S3 key segment, log-group name and Firehose prefix."""
    etype, eid, dt = keys["entity_type"], keys["entity_id"], keys["dt"]
    assert ENTITY_TYPE.fullmatch(etype), etype
    assert ENTITY_ID.fullmatch(eid) and ".." not in eid and not eid.startswith("."), eid
    assert DAY.fullmatch(dt), dt
    group = router.log_group_for(etype, eid)
    assert LOG_GROUP.fullmatch(group) and not group.startswith("aws/"), group
    prefix = evaluate_prefix(SPEND_PREFIX, timestamp_ms=ARRIVAL_MS, partition_keys=keys)
    assert prefix == f"spend/entity_type={etype}/entity_id={eid}/dt={dt}/"
    assert len(prefix) <= MAX_EVALUATED_PREFIX_CHARS


def _decode(data: Any) -> Decoded | None:
    """The record's content, or ``None`` when it cannot be decoded (the transform's own decoder: the
    oracle checks what happens to decoded events, not the decoding)."""
    if not isinstance(data, str):
        return None
    try:
        return decode_record(codec.b64decode(data))
    except (codec.CodecError, binascii.Error):
        return None


def check_attribution(record: dict[str, Any], own_account: str) -> None:
    """Invariant 4 for one landed record."""
    etype, name = record["entity_type"], record["entity_name"]
    if etype == "invalid":
        assert record["pricing_status"] == "invalid" and record["invalid_reason"]
        return
    assert name is not None and record["entity_id"] == safe_name(name)
    if etype == "unattributed":
        return
    principal = parse_principal(record["principal_arn"])
    account = principal.account_id
    assert account in (own_account, ALLOWED), f"{etype} {name!r} from account {account}"
    fields = principal.fields
    if etype == "tenant":
        assert principal.kind == "assumed-role"
        role = fields["role_name"]
        metadata = record["request_metadata"] or {}
        by_role = role == f"tenant-{name}"
        by_gateway = role == GATEWAY_ROLE and str(metadata.get("tenant", "")).strip() == name
        assert by_role or by_gateway, f"tenant {name!r} from {record['principal_arn']!r} / {metadata!r}"
    elif etype == "user":
        if principal.kind == "assumed-role":
            assert SSO_ROLE.fullmatch(fields["role_name"]) and fields["session_name"] == name
        else:
            assert principal.kind == "user" and fields["user_name"] == name
    elif etype in ("ci", "demo"):
        assert principal.kind == "assumed-role" and fields["role_name"] == f"{etype}-{name}"
    else:
        raise AssertionError(f"unexpected entity type {etype}")


def check_batch(router: Router, batch: Batch, settled: Settled) -> None:
    """Invariants 1-4 over a settled batch."""
    first = settled.first_response["records"]
    expected: Counter[str] = Counter()
    expected_bare = 0
    owner_of: dict[str, str] = {}
    forbidden: set[str] = set()
    mirrored = router.mirrored_prefixes()
    for spec, rec in zip(batch.specs, first, strict=True):
        decoded = _decode(spec.data)
        if rec["result"] == "ProcessingFailed":
            assert decoded is None, f"ProcessingFailed for a decodable {spec.shape} record"
            forbidden.update(spec.event_ids)
            continue
        assert decoded is not None, f"{rec['result']} for an undecodable record"
        if decoded.kind != "events":
            continue
        if decoded.log_group and _is_mirrored(decoded.log_group, mirrored):
            assert rec["result"] == "Dropped"
            forbidden.update(spec.event_ids)
            continue
        own = decoded.owner if len(decoded.owner) == 12 and decoded.owner.isdigit() else ""
        for event in decoded.events:
            if event.id is None:
                expected_bare += 1
            else:
                expected[event.id] += 1
                owner_of[event.id] = own
    for spec, rec in zip(batch.specs, first, strict=True):
        if not spec.corrupted and spec.shape in ("gzip", "plain", "bare", "control"):
            assert rec["result"] != "ProcessingFailed", "an intact record failed"
    landed: Counter[str] = Counter()
    bare = 0
    all_records = [(keys, r) for keys, r in settled.landed] + [(None, r) for r in settled.failed_reput_lines]
    for keys, record in all_records:
        if keys is not None:
            check_key(router, keys)
            assert (record["entity_type"], record["entity_id"], record["dt"]) == (
                keys["entity_type"],
                keys["entity_id"],
                keys["dt"],
            ), "an Ok record holds events of exactly one partition key"
        event_id = record["log_event_id"]
        if event_id is None:
            bare += 1
            own = ""
        else:
            landed[event_id] += 1
            own = owner_of.get(event_id, "")
        check_attribution(record, own or record["account_id"] or ACCOUNT)
    assert not (set(landed) & forbidden), "events of a failed or dropped record landed"
    assert landed == expected, _diff(expected, landed)
    assert bare == expected_bare, f"bare events: {bare} landed, {expected_bare} expected"
    pristine = {
        m.request_id
        for spec, rec in zip(batch.specs, first, strict=True)
        if not spec.corrupted
        and rec["result"] != "ProcessingFailed"
        and (spec.shape == "bare" or not _is_mirrored(spec.log_group, mirrored))
        for m in spec.messages
        if m.pristine and spec.shape in ("gzip", "plain", "bare")
    }
    valid = {r["request_id"] for _, r in all_records if r["entity_type"] != "invalid"}
    assert pristine <= valid, f"valid invocations filed as invalid: {sorted(pristine - valid)[:5]}"


def _is_mirrored(group: str, prefixes: tuple[str, ...]) -> bool:
    return bool(group) and any(group == p or (p.endswith("/") and group.startswith(p)) for p in prefixes)


def _diff(expected: Counter[str], landed: Counter[str]) -> str:
    lost = sorted((expected - landed).elements())[:5]
    extra = sorted((landed - expected).elements())[:5]
    return f"conservation: lost {lost}, duplicated/unexpected {extra}"
