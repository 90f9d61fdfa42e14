"""Seeded, realistic Bedrock invocation log traffic for the demo, the e2e tests and the benchmark.

Events follow the ``ModelInvocationLog`` shape of
https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html: all four
operations, embeddings without output tokens, errors with ``errorCode``, bodies inline or offloaded
to S3, cache read/write tokens, profile-prefixed and ARN model ids, ``inferenceRegion`` and
``requestMetadata``. Principals cover tenants (including session names that try to impersonate
another tenant), SSO users with e-mail names, IAM users, CI pipelines, demos, foreign accounts,
unknown roles and root. The same seed always gives the same events.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ACCOUNT = "123456789012"
FOREIGN_ACCOUNT = "210987654321"
REGION = "us-east-1"

TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark-industries", "wayne.enterprises")
SSO_USERS = (
    "jane.doe@example.com",
    "raj.patel@example.com",
    "li.wei@example.com",
    "mary-jane.o.brien@example.com",
)
IAM_USERS = ("dheeraj", "build-bot", "analyst")
PIPELINES = ("checkout-service", "nightly-evals", "docs-site")
DEMOS = ("reinvent-booth", "sales-poc")
_COMMON = [
    "invoice",
    "tenant",
    "model",
    "token",
    "latency",
    "cache",
    "region",
    "budget",
    "pipeline",
    "review",
    "summary",
    "contract",
    "customer",
    "policy",
    "deploy",
    "metric",
    "alert",
    "quarter",
    "forecast",
    "ledger",
    "audit",
    "report",
    "draft",
    "answer",
]


def _vocabulary(size: int = 6_000, seed: int = 1) -> tuple[str, ...]:
    """Common words plus pseudo-words: prompts compress about as much as real text does (~3x)."""
    rng = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [26 - i for i in range(26)]
    made = {"".join(rng.choices(letters, weights, k=rng.randint(2, 11))) for _ in range(size)}
    return (*_COMMON, *sorted(made))


_WORDS = _vocabulary()

# (model id as logged, operation kind, supports cache)
MODELS: tuple[tuple[str, str, bool], ...] = (
    ("anthropic.claude-3-haiku-20240307-v1:0", "chat", False),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "chat", True),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "chat", True),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "chat", True),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "chat", True),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "chat", True),
    ("amazon.nova-micro-v1:0", "chat", False),
    ("amazon.nova-lite-v1:0", "chat", True),
    ("us.amazon.nova-pro-v1:0", "chat", True),
    ("meta.llama3-70b-instruct-v1:0", "chat", False),
    ("mistral.mistral-large-2402-v1:0", "chat", False),
    (
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "chat",
        False,
    ),
    ("amazon.titan-embed-text-v2:0", "embed", False),
    ("cohere.embed-english-v3", "embed", False),
    (f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6", "chat", False),
    ("vendor.unreleased-model-v9:0", "chat", False),
)
_MODEL_WEIGHTS = (14, 12, 8, 6, 5, 6, 10, 10, 6, 4, 3, 3, 6, 3, 2, 2)


@dataclass(frozen=True)
class TrafficConfig:
    """Knobs of the generator."""

    events: int = 2_000
    seed: int = 7
    days: int = 3
    body_bytes: int = 3_000
    invalid_rate: float = 0.01
    error_rate: float = 0.03
    end: datetime | None = None


def _principal(rng: random.Random) -> str:
    roll = rng.random()
    sts = f"arn:aws:sts::{ACCOUNT}:assumed-role"
    if roll < 0.40:
        tenant = rng.choice(TENANTS)
        # Callers choose session names; some try to look like another tenant.
        session = rng.choice(("api", f"req-{rng.randrange(10**6)}", f"tenant-{rng.choice(TENANTS)}"))
        return f"{sts}/tenant-{tenant}/{session}"
    if roll < 0.62:
        return f"{sts}/AWSReservedSSO_Developer_0f1e2d3c4b5a6978/{rng.choice(SSO_USERS)}"
    if roll < 0.70:
        return f"arn:aws:iam::{ACCOUNT}:user/{rng.choice(IAM_USERS)}"
    if roll < 0.82:
        return f"{sts}/ci-{rng.choice(PIPELINES)}/build-{rng.randrange(10**5)}"
    if roll < 0.88:
        return f"{sts}/demo-{rng.choice(DEMOS)}/presenter"
    if roll < 0.93:
        return f"arn:aws:sts::{FOREIGN_ACCOUNT}:assumed-role/tenant-acme/cross-account"
    if roll < 0.98:
        return f"{sts}/analytics-batch/job-{rng.randrange(100)}"
    return f"arn:aws:iam::{ACCOUNT}:root"


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def invocation(rng: random.Random, when: datetime, body_bytes: int, error_rate: float) -> dict[str, object]:
    """One invocation log event (as a dict)."""
    model_id, kind, cache = rng.choices(MODELS, weights=_MODEL_WEIGHTS)[0]
    principal = _principal(rng)
    account = FOREIGN_ACCOUNT if f":{FOREIGN_ACCOUNT}:" in principal else ACCOUNT
    half = max(body_bytes // 2, 16)
    if kind == "embed":
        operation = "InvokeModel"
        inp: dict[str, object] = {
            "inputContentType": "application/json",
            "inputBodyJson": {"inputText": _text(rng, half)},
            "inputTokenCount": rng.randint(20, 2_000),
        }
        out: dict[str, object] = {
            "outputContentType": "application/json",
            "outputBodyJson": {"embedding": [round(rng.uniform(-1, 1), 4) for _ in range(8)]},
        }
    else:
        operation = rng.choice(("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"))
        inp = {
            "inputContentType": "application/json",
            "inputTokenCount": rng.randint(10, 8_000),
            "cacheReadInputTokenCount": rng.choice((0, 0, rng.randint(1_000, 30_000))) if cache else 0,
            "cacheWriteInputTokenCount": rng.choice((0, 0, 0, rng.randint(1_000, 10_000))) if cache else 0,
        }
        if rng.random() < 0.05:
            inp["inputBodyS3Path"] = (
                f"s3://bedrock-invocation-bodies/{uuid.UUID(int=rng.getrandbits(128))}.json"
            )
        else:
            inp["inputBodyJson"] = {"messages": [{"role": "user", "content": [{"text": _text(rng, half)}]}]}
        tokens = rng.randint(1, 4_000)
        out = {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": {"role": "assistant", "content": [{"text": _text(rng, half)}]}},
                "stopReason": "end_turn",
            },
            "outputTokenCount": tokens,
        }
    event: dict[str, object] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": account,
        "identity": {"arn": principal},
        "region": REGION,
        "requestId": str(uuid.UUID(int=rng.getrandbits(128))),
        "operation": operation,
        "modelId": model_id,
        "input": inp,
        "output": out,
    }
    if model_id.startswith(("us.", "global.")) or "inference-profile/" in model_id:
        event["inferenceRegion"] = rng.choice(("us-east-1", "us-east-2", "us-west-2"))
    if operation.startswith("Converse") and rng.random() < 0.3:
        # Caller-chosen metadata: trusted only from configured gateways.
        event["requestMetadata"] = {"tenant": rng.choice(TENANTS), "feature": rng.choice(("chat", "search"))}
    if rng.random() < error_rate:
        event["errorCode"] = rng.choice(
            ("ThrottlingException", "ValidationException", "ModelTimeoutException")
        )
        event.pop("output", None)
    return event


def generate(config: TrafficConfig) -> list[tuple[int, str]]:
    """``(timestamp_ms, message)`` pairs in chronological order."""
    rng = random.Random(config.seed)
    end = config.end or datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=config.days)
    span = (end - start).total_seconds()
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(config.events))
    out: list[tuple[int, str]] = []
    for when in moments:
        ms = int(when.timestamp() * 1000)
        if rng.random() < config.invalid_rate:
            broken = json.dumps(invocation(rng, when, 200, 0.0))
            out.append((ms, broken[: rng.randint(10, len(broken) - 1)]))  # truncated: not JSON
            continue
        out.append((ms, json.dumps(invocation(rng, when, config.body_bytes, config.error_rate))))
    return out
