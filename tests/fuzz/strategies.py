"""Hypothesis strategies for the transform's whole input space, and the fuzz profiles.

Profiles (selected with ``BEDROCK_SPEND_FUZZ``): ``fast`` (default; part of ``make test``) and
``long`` (``make fuzz``: many more examples, bigger inputs). Every fuzz test takes its settings from
:data:`FUZZ`, so one variable scales the whole suite.

The input is built in layers, each with its own corruptions:

* a **log message**: a valid Bedrock invocation log, then mutated — principal ARNs of every partition
  and principal kind (assumed roles, SSO, federated users, service-linked ``AWSServiceRoleFor…`` roles,
  IAM roles and users, root, malformed), names carrying injection attempts (``../``, ``/``, ``%2F``,
  Unicode look-alikes, very long names), ``requestMetadata`` (read by a trusted-gateway rule),
  timestamps in other formats and far in the future or past, negative / enormous / mistyped token
  counts, missing and mistyped fields, huge bodies, deeply nested bodies, or no JSON at all;
* a **Firehose record**: the messages in a gzip envelope, a plain envelope or bare lines (each event
  with a unique id), a control message, or a record that looks re-put; then truncated or corrupt gzip,
  wrong base64, non-UTF-8 bytes, a missing or non-string ``data``;
* a **batch**: several records with odd ``approximateArrivalTimestamp`` values.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.builders import ACCOUNT, ARRIVAL_MS, STREAM_ARN, load_event
from transform.envelope import REPUT_MAGIC

FOREIGN = "210987654321"
ALLOWED = "111122223333"
GATEWAY_ROLE = "bedrock-gateway"
SSO_ROLE = "AWSReservedSSO_Developer_0f1e2d3c4b5a6978"

# -- profiles -------------------------------------------------------------------------------------
_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "derandomize": False,
}
settings.register_profile("fuzz-fast", max_examples=150, **_COMMON)
settings.register_profile("fuzz-long", max_examples=1500, **_COMMON)
PROFILE = os.environ.get("BEDROCK_SPEND_FUZZ", "fast")
if PROFILE not in ("fast", "long"):
    raise ValueError(f"BEDROCK_SPEND_FUZZ must be 'fast' or 'long', not {PROFILE!r}")
LONG = PROFILE == "long"
#: Settings of every fuzz test (``@FUZZ``); ``FUZZ_SMALL`` for the slower, heavier tests.
FUZZ = settings(settings.get_profile(f"fuzz-{PROFILE}"))
FUZZ_SMALL = settings(FUZZ, max_examples=1000 if LONG else 50)
#: Size knobs: the long mode goes up to CloudWatch Logs' 1 MB event size.
HUGE_BYTES = 1_000_000 if LONG else 300_000
MAX_RECORDS = 12 if LONG else 6
MAX_EVENTS = 25 if LONG else 8

# -- names ----------------------------------------------------------------------------------------
INJECTIONS = (
    "../",
    "..",
    "/",
    "%2F",
    "%2e%2e%2f",
    "\\",
    "\u2215",  # division slash
    "\uff0f",  # fullwidth solidus
    "\u2024",  # one dot leader
    "\uff0e",  # fullwidth full stop
    "\u0430",  # Cyrillic a (looks like Latin a)
    "\u0131",  # dotless i
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "#",
    "#-",
    "#2F",
    "aws/",
    "/aws/",
    "{tenant}",
    "{metadata}",
    "\x00",
    " ",
    "\t",
    "*",
    "?",
    "=",
    "@",
    ",",
    "+",
    "!{partitionKeyFromLambda:entity_id}",
)
PLAIN_NAMES = ("acme", "globex", "a", "x1", "jane.doe@example.com", "build-7", "wayne.enterprises")

name_piece = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(PLAIN_NAMES),
    st.text(min_size=1, max_size=6),
    st.text(alphabet="abcdefghij-_.", min_size=1, max_size=8),
)
names = st.one_of(
    st.sampled_from(PLAIN_NAMES),
    st.sampled_from(PLAIN_NAMES),
    st.lists(name_piece, min_size=1, max_size=6).map("".join),
    st.integers(60, 400).map(lambda n: ("tenant-" if n % 2 else "") + "a" * n),  # very long
    st.integers(1, 40).map(lambda n: "../" * n),
)


def _arn(partition: str, service: str, account: str, resource: str, region: str = "") -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


partitions = st.sampled_from(("aws", "aws-cn", "aws-us-gov", "aws-iso-b", "AWS", "", "aws-", "aws_cn"))
accounts = st.sampled_from(
    (ACCOUNT, ACCOUNT, ACCOUNT, FOREIGN, ALLOWED, "12345", "abcdefghijkl", "", "0" * 13)
)
role_names = st.one_of(
    names.map(lambda n: f"tenant-{n}"),
    names.map(lambda n: f"ci-{n}"),
    names.map(lambda n: f"demo-{n}"),
    st.sampled_from(
        (
            "tenant-acme",
            "tenant-globex",
            SSO_ROLE,
            "AWSReservedSSO_Admin_0123456789abcdef",
            "AWSServiceRoleForAmazonBedrock",
            GATEWAY_ROLE,
            "analytics-batch",
        )
    ),
    names,
)
session_names = st.one_of(
    st.sampled_from(("api", "tenant-globex", "tenant-acme", "jane.doe@example.com", "bedrock-gateway")),
    names,
)


@st.composite
def principal_arns(draw: st.DrawFn) -> str:
    """A principal ARN of any partition and kind, well-formed or not."""
    partition = draw(partitions)
    account = draw(accounts)
    kind = draw(
        st.sampled_from(
            (
                "assumed-role",
                "assumed-role",
                "assumed-role",
                "federated",
                "root",
                "user",
                "role",
                "slr",
                "odd",
            )
        )
    )
    if kind == "assumed-role":
        resource = f"assumed-role/{draw(role_names)}/{draw(session_names)}"
        return _arn(partition, "sts", account, resource, draw(st.sampled_from(("", "", "us-east-1"))))
    if kind == "federated":
        return _arn(partition, "sts", account, f"federated-user/{draw(names)}")
    if kind == "root":
        return _arn(partition, draw(st.sampled_from(("iam", "sts"))), account, "root")
    if kind == "user":
        path = draw(st.sampled_from(("", "division/", "a/b/c/", "../", "%2F/")))
        return _arn(partition, "iam", account, f"user/{path}{draw(names)}")
    if kind == "role":
        return _arn(partition, "iam", account, f"role/{draw(names)}")
    if kind == "slr":
        service = draw(st.sampled_from(("bedrock", "ecs", "lambda")))
        name = f"AWSServiceRoleFor{service.capitalize()}"
        if draw(st.booleans()):
            return _arn(partition, "iam", account, f"role/aws-service-role/{service}.amazonaws.com/{name}")
        return _arn(partition, "sts", account, f"assumed-role/{name}/{draw(session_names)}")
    return draw(
        st.one_of(
            st.text(max_size=80),
            st.just(f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme"),
            st.just(f"arn:aws:sts::{ACCOUNT}:assumed-role/tenant-acme/s/extra"),
            st.just(f"arn:aws:sts::{ACCOUNT}:assumed-role//x1"),
            names.map(lambda n: f"arn:aws:sts::{ACCOUNT}:{n}"),
        )
    )


# -- values ---------------------------------------------------------------------------------------
TIMESTAMPS = (
    "2025-03-11T00:38:02Z",
    "2025-03-11T23:59:59.999999Z",
    "2025-03-11T12:00:00+05:30",
    "2025-03-11T12:00:00-11:59",
    "2025-03-11T12:00:00.123456789Z",
    "2025-03-11t12:00:00z",
    "2025-03-11 12:00:00Z",
    "2025-03-11T12:00:00",
    "2025-03-11",
    "11/03/2025 12:00:00",
    "Tue, 11 Mar 2025 12:00:00 GMT",
    "1741653482",
    "1741653482000",
    "2099-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-03-11T24:00:00Z",
    "2025-03-11T12:00:00+24:00",
    "+2025-03-11T12:00:00Z",
    "2025-03-11T12:00:00Z\n",
    "",
)
timestamps = st.one_of(
    st.sampled_from(TIMESTAMPS),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.text(max_size=30),
    st.integers(),
    st.none(),
)
token_counts = st.one_of(
    st.integers(0, 50_000),
    st.integers(-(2**70), 2**70),
    st.sampled_from((-1, 0, 10**9, 10**9 + 1, 2**31, 2**63, 2**64, -(2**63))),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
metadata_values = st.one_of(names, st.sampled_from(("globex", " globex ", "", "   ")), json_values)
request_metadata = st.one_of(
    st.none(),
    st.dictionaries(
        st.one_of(st.sampled_from(("tenant", "feature", "tenant ")), st.text(max_size=10)),
        metadata_values,
        max_size=18,
    ),
    st.just("not-a-map"),
)
FIELDS = (
    "schemaType",
    "schemaVersion",
    "timestamp",
    "accountId",
    "identity",
    "region",
    "requestId",
    "operation",
    "modelId",
    "inferenceRegion",
    "errorCode",
    "requestMetadata",
    "input",
    "output",
)
MODEL_IDS = (
    "amazon.nova-lite-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
    "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
    "arn:aws:bedrock:",
    "vendor.unreleased-model-v9:0",
    "us.",
    "global.",
    "amazon.nova-lite-v1:0:300k",
)
model_ids = st.one_of(st.sampled_from(MODEL_IDS), st.text(min_size=1, max_size=40))
regions = st.one_of(
    st.sampled_from(
        ("us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1", "ap-southeast-2", "mars-1", "")
    ),
    st.text(max_size=12),
)


@dataclass
class Message:
    """One log message as generated: its text, and whether it was left a valid invocation log."""

    text: str
    request_id: str
    pristine: bool


@st.composite
def messages(draw: st.DrawFn, request_id: str) -> Message:
    """A Bedrock invocation log message, valid or mutated in one or more ways (see module doc)."""
    base = copy.deepcopy(
        load_event(draw(st.sampled_from(("bedrock-converse-stream", "bedrock-invoke-embedding"))))
    )
    base["requestId"] = request_id
    arn = draw(principal_arns())
    base["identity"] = {"arn": arn}
    pristine = 1 <= len(arn) <= 2048  # the schema's bounds for identity.arn
    if draw(st.integers(0, 3)) == 0:
        base["requestMetadata"] = draw(request_metadata)
        pristine = False
    mutations = draw(
        st.lists(
            st.sampled_from(
                (
                    "timestamp",
                    "tokens",
                    "drop",
                    "mistype",
                    "model",
                    "region",
                    "huge",
                    "deep",
                    "raw",
                    *("none",) * 9,
                )
            ),
            max_size=3,
        )
    )
    deep = 0
    for mutation in mutations:
        if mutation == "none":
            continue
        pristine = False
        if mutation == "timestamp":
            base["timestamp"] = draw(timestamps)
        elif mutation == "tokens":
            part, key = draw(
                st.sampled_from(
                    (
                        ("input", "inputTokenCount"),
                        ("input", "cacheReadInputTokenCount"),
                        ("input", "cacheWriteInputTokenCount"),
                        ("output", "outputTokenCount"),
                    )
                )
            )
            if isinstance(base.get(part), dict):
                base[part][key] = draw(token_counts)
        elif mutation == "drop":
            base.pop(draw(st.sampled_from(FIELDS)), None)
        elif mutation == "mistype":
            base[draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif mutation == "model":
            base["modelId"] = draw(model_ids)
            base["inferenceRegion"] = draw(regions)
        elif mutation == "region":
            base["region"] = draw(regions)
        elif mutation == "huge":
            size = draw(st.integers(10_000, HUGE_BYTES))
            if isinstance(base.get("input"), dict):
                base["input"]["inputBodyJson"] = {"text": "x" * size}  # skipped by the decoder
            else:  # reaches the spend record; Bedrock itself bounds metadata to 16 x 256 characters
                base["requestMetadata"] = {"pad": "y" * min(size, 200_000)}
        elif mutation == "deep":
            deep = draw(st.sampled_from((10, 900, 1_100, 5_000, 50_000)))
    text = json.dumps(base)
    if deep:
        nested = "[" * deep + "]" * deep if deep % 2 == 0 else '{"a":' * deep + "1" + "}" * deep
        text = text[:-1] + f', "inputBodyJsonNested": {nested}' + "}"
    if "raw" in mutations:
        text = draw(
            st.one_of(
                st.text(max_size=200),
                st.just(text[: draw(st.integers(0, max(0, len(text) - 1)))]),  # truncated JSON
                st.just("[" + text + "]"),
                st.just("null"),
            )
        )
    if "\n" in text or not text.strip():
        # bare messages are split on newlines, so a message stays one line (envelopes carry any text)
        text = text.replace("\n", " ").strip() or "{}"
    return Message(text, request_id, pristine)


# -- records --------------------------------------------------------------------------------------
LOG_GROUPS = (
    "/aws/bedrock/modelinvocations",
    "/aws/bedrock/modelinvocations",
    "/bedrock/tenants/acme",  # a mirrored group: the loop guard drops it
    "/bedrock/unattributed",
    "../../etc",
    "/aws/bedrock/%2F..%2F",
    "",
)
CORRUPTIONS = (
    *("none",) * 12,
    "truncate",
    "flip",
    "b64-char",
    "b64-padding",
    "b64-newline",
    "non-utf8",
    "no-data",
    "not-str",
)


@dataclass
class RecordSpec:
    """One generated Firehose record and what the oracle needs to know about it."""

    data: Any  # the base64 text handed to the Lambda (or a non-string when corrupted that way)
    shape: str
    event_ids: list[str] = field(default_factory=list)
    bare_events: int = 0
    corrupted: bool = False
    log_group: str = ""
    owner: str = ""
    messages: list[Message] = field(default_factory=list)


def _envelope(msgs: list[Message], ids: list[str], log_group: str, owner: str) -> bytes:
    return json.dumps(
        {
            "messageType": "DATA_MESSAGE",
            "owner": owner,
            "logGroup": log_group,
            "logStream": "aws/bedrock/modelinvocations",
            "subscriptionFilters": ["bedrock-spend"],
            "logEvents": [
                {"id": i, "timestamp": ARRIVAL_MS, "message": m.text} for i, m in zip(ids, msgs, strict=True)
            ],
        }
    ).encode()


def _corrupt(draw: st.DrawFn, raw: bytes, how: str) -> Any:
    if how == "truncate":
        return base64.b64encode(raw[: draw(st.integers(0, max(0, len(raw) - 1)))]).decode()
    if how == "flip":
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        flipped = bytearray(raw)
        if flipped:
            flipped[pos] ^= draw(st.integers(1, 255))
        return base64.b64encode(bytes(flipped)).decode()
    text = base64.b64encode(raw).decode()
    if how == "b64-char":
        pos = draw(st.integers(0, len(text)))
        return text[:pos] + draw(st.sampled_from(("!", "*", "-", "_", "é", " ", "="))) + text[pos:]
    if how == "b64-padding":
        return text.rstrip("=") + ("" if text.endswith("=") else "A")
    if how == "b64-newline":
        return base64.encodebytes(raw).decode() if len(raw) > 57 else text + "\n"
    if how == "non-utf8":
        pos = draw(st.integers(0, len(raw)))
        return base64.b64encode(
            raw[:pos] + draw(st.sampled_from((b"\xff", b"\xc3\x28", b"\xed\xa0\x80"))) + raw[pos:]
        ).decode()
    if how == "no-data":
        return None
    return draw(st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.just(b"bytes")))


@st.composite
def records(draw: st.DrawFn, first_event: int) -> RecordSpec:
    """One Firehose record of any shape, maybe corrupted; event ids start at ``first_event``."""
    shape = draw(st.sampled_from(("gzip", "gzip", "gzip", "plain", "bare", "control", "reput-junk")))
    count = draw(st.integers(0, MAX_EVENTS))
    ids = [f"ev{first_event + i:08d}" for i in range(count)]
    msgs = [draw(messages(request_id=f"req-{first_event + i:08d}")) for i in range(count)]
    log_group = draw(st.sampled_from(LOG_GROUPS))
    owner = draw(st.sampled_from((ACCOUNT, ACCOUNT, ACCOUNT, FOREIGN, "CloudwatchLogs", "")))
    spec = RecordSpec(data="", shape=shape, log_group=log_group, owner=owner, messages=msgs)
    if shape in ("gzip", "plain"):
        raw = _envelope(msgs, ids, log_group, owner)
        raw = gzip.compress(raw, 1) if shape == "gzip" else raw
        spec.event_ids = ids
    elif shape == "bare":
        raw = "\n".join(m.text for m in msgs).encode()
        spec.bare_events = len(msgs)
    elif shape == "control":
        raw = gzip.compress(json.dumps(load_event("cwl-control-message")).encode())
    else:
        raw = REPUT_MAGIC + draw(st.binary(max_size=200))
    how = draw(st.sampled_from(CORRUPTIONS))
    spec.data = _corrupt(draw, raw, how) if how != "none" else base64.b64encode(raw).decode()
    # an empty bare record is not a valid record either (nothing to decode)
    spec.corrupted = how != "none" or (shape == "bare" and not msgs)
    return spec


#: Firehose sets ``approximateArrivalTimestamp`` itself (epoch ms, now); odd types fall back to "now".
arrival_values: st.SearchStrategy[Any] = st.one_of(
    st.just(ARRIVAL_MS),
    st.integers(946_684_800_000, 4_102_444_799_999),  # 2000-01-01 .. 2099-12-31
    st.sampled_from((float("nan"), float("inf"), -float("inf"), "", "soon", None, [])),
)


@dataclass
class Batch:
    """A generated Firehose transformation event and its record specs (same order)."""

    event: dict[str, Any]
    specs: list[RecordSpec]


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    """A Firehose transformation event of 1..MAX_RECORDS generated records."""
    n = draw(st.integers(1, MAX_RECORDS))
    specs: list[RecordSpec] = []
    next_event = 0
    for _ in range(n):
        spec = draw(records(first_event=next_event))
        next_event += MAX_EVENTS + 1
        specs.append(spec)
    event = {
        "invocationId": "fuzz",
        "deliveryStreamArn": STREAM_ARN,
        "region": "us-east-1",
        "records": [
            {"recordId": f"{i:056d}", "approximateArrivalTimestamp": draw(arrival_values), "data": s.data}
            for i, s in enumerate(specs)
        ],
    }
    return Batch(event, specs)
