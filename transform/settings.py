"""The one validated settings model of both Lambda functions, read once at start-up from the environment.

Every variable is optional; defaults are the documented production values. Invalid values raise
:class:`SettingsError` naming every problem at once, so a misconfigured function fails on its first
invocation instead of mis-attributing spend.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
_ACCOUNT = re.compile(r"^\d{12}$")
#: Values PutRetentionPolicy accepts for ``retentionInDays``
#: (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


class SettingsError(ValueError):
    """One or more settings are invalid."""


@dataclass(frozen=True)
class Settings:
    """Configuration of the transform and mirror functions.

    Attributes map to environment variables ``BEDROCK_SPEND_<NAME upper-cased>``.
    """

    routing_file: Path = DATA_DIR / "routing.json"
    pricing_file: Path = DATA_DIR / "pricing.json"
    #: Accounts (besides each log's own account) whose principals may be attributed to an entity.
    allowed_accounts: frozenset[str] = field(default_factory=frozenset)
    #: Resolve application inference-profile ARNs to their model with ``bedrock:GetInferenceProfile``
    #: (once per ARN per container) before the catalogue's ``application_profiles`` mapping.
    resolve_profiles: bool = False
    #: Firehose limits the Lambda response to 6 MB; the AWS blueprint keeps it under 6,000,000 bytes.
    response_budget_bytes: int = 6_000_000
    #: PutRecordBatch attempts (first call + retries of failed records) before the batch is failed.
    reput_max_attempts: int = 5
    reput_base_delay_seconds: float = 0.05
    #: How often one re-put record may be deferred again for lack of response space.
    max_reput_hops: int = 3
    #: Mirror: retention of created per-entity log groups (days; a CloudWatch Logs allowed value).
    log_retention_days: int = 30
    #: Mirror: DynamoDB table for Powertools idempotency; empty disables it (local use only).
    idempotency_table: str = ""
    #: Mirror: how long an object's (and a batch's) idempotency record is kept. Longer than the 14 days
    #: after which CloudWatch Logs rejects an event anyway, so a late redelivery cannot duplicate.
    idempotency_ttl_seconds: int = 15 * 24 * 3600
    #: Mirror: attempts per CloudWatch Logs call on throttling/service errors (exponential backoff,
    #: full jitter, capped at ``logs_max_delay_seconds``), on top of botocore's own retries.
    logs_max_attempts: int = 6
    logs_base_delay_seconds: float = 0.1
    logs_max_delay_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``BEDROCK_SPEND_*`` variables, validating all of them."""
        env = os.environ if env is None else env
        problems: list[str] = []
        values: dict[str, object] = {}

        def get(name: str) -> str | None:
            raw = env.get(f"BEDROCK_SPEND_{name}")
            return raw if raw not in (None, "") else None

        for key, attr in (("ROUTING_FILE", "routing_file"), ("PRICING_FILE", "pricing_file")):
            raw = get(key)
            if raw is not None:
                path = Path(raw)
                if not path.is_file():
                    problems.append(f"BEDROCK_SPEND_{key}: no such file: {raw}")
                values[attr] = path
        raw = get("ALLOWED_ACCOUNTS")
        if raw is not None:
            accounts = frozenset(a.strip() for a in raw.split(",") if a.strip())
            bad = sorted(a for a in accounts if not _ACCOUNT.match(a))
            if bad:
                problems.append(f"BEDROCK_SPEND_ALLOWED_ACCOUNTS: not 12-digit account ids: {bad}")
            values["allowed_accounts"] = accounts
        for key, attr, low, high in (
            ("RESPONSE_BUDGET_BYTES", "response_budget_bytes", 100_000, 6_000_000),
            ("REPUT_MAX_ATTEMPTS", "reput_max_attempts", 1, 20),
            ("MAX_REPUT_HOPS", "max_reput_hops", 0, 10),
            ("LOG_RETENTION_DAYS", "log_retention_days", 1, 3653),
            ("IDEMPOTENCY_TTL_SECONDS", "idempotency_ttl_seconds", 60, 366 * 24 * 3600),
            ("LOGS_MAX_ATTEMPTS", "logs_max_attempts", 1, 20),
        ):
            raw = get(key)
            if raw is None:
                continue
            try:
                number = int(raw)
            except ValueError:
                problems.append(f"BEDROCK_SPEND_{key}: not an integer: {raw!r}")
                continue
            if not low <= number <= high:
                problems.append(f"BEDROCK_SPEND_{key}: {number} outside [{low}, {high}]")
            values[attr] = number
        seconds: tuple[tuple[str, str, float], ...] = (
            ("REPUT_BASE_DELAY_SECONDS", "reput_base_delay_seconds", 5.0),
            ("LOGS_BASE_DELAY_SECONDS", "logs_base_delay_seconds", 5.0),
            ("LOGS_MAX_DELAY_SECONDS", "logs_max_delay_seconds", 60.0),
        )
        for key, attr, limit in seconds:
            raw = get(key)
            if raw is None:
                continue
            try:
                delay = float(raw)
                if not 0 <= delay <= limit:
                    raise ValueError
                values[attr] = delay
            except ValueError:
                problems.append(f"BEDROCK_SPEND_{key}: not a number in [0, {limit:g}]: {raw!r}")
        raw = get("RESOLVE_PROFILES")
        if raw is not None:
            flag = raw.strip().lower()
            if flag in ("true", "1", "yes", "on"):
                values["resolve_profiles"] = True
            elif flag in ("false", "0", "no", "off"):
                values["resolve_profiles"] = False
            else:
                problems.append(f"BEDROCK_SPEND_RESOLVE_PROFILES: not a boolean: {raw!r}")
        raw = get("IDEMPOTENCY_TABLE")
        if raw is not None:
            values["idempotency_table"] = raw
        if values.get("log_retention_days", 30) not in RETENTION_DAYS:
            problems.append(f"BEDROCK_SPEND_LOG_RETENTION_DAYS: not one of {sorted(RETENTION_DAYS)}")
        if problems:
            raise SettingsError("; ".join(problems))
        return cls(**values)  # type: ignore[arg-type]
