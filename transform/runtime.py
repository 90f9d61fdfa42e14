"""Wiring of the transform Lambda: settings → router, catalogue, re-put adapter, metrics.

Built once per execution environment (cold start) by :func:`transform_app`; every AWS client is
created lazily and honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_FIREHOSE``
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from transform.pricing import PICO_PER_USD, Catalogue
from transform.process import Outcome, Transformer
from transform.profiles import ProfileResolver
from transform.reput import Reputter, stream_name_from_arn
from transform.routing import load_router
from transform.settings import Settings

logger = Logger(service="bedrock-spend")
metrics = Metrics(namespace="BedrockSpend", service="bedrock-spend")


def firehose_client(region: str | None) -> Any:
    """A boto3 Firehose client with bounded timeouts (endpoint from the standard variables)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    return boto3.client("firehose", region_name=region or None, config=config)


class TransformApp:
    """Runs one transformation event: pure transform, then re-puts, then metrics."""

    def __init__(
        self, settings: Settings, firehose: Any | None = None, profiles: ProfileResolver | None = None
    ) -> None:
        self.settings = settings
        router = load_router(settings.routing_file, settings.allowed_accounts)
        # Application inference profiles are looked up (GetInferenceProfile, ListTagsForResource) only
        # when pricing is told to resolve them or a routing rule names entities by a profile tag.
        if profiles is None and (settings.resolve_profiles or router.uses_profiles):
            profiles = ProfileResolver()
        self.profiles = profiles
        if profiles is not None and router.uses_profiles:
            router.profile_tags = profiles.tags_for
        catalogue = Catalogue.load(settings.pricing_file, profiles if settings.resolve_profiles else None)
        self.transformer = Transformer(
            router, catalogue, settings.response_budget_bytes, settings.max_reput_hops
        )
        self._firehose = firehose

    def reputter(self, region: str | None) -> Reputter:
        """The re-put adapter (creates the Firehose client on first use)."""
        if self._firehose is None:
            self._firehose = firehose_client(region)
        return Reputter(
            self._firehose, self.settings.reput_max_attempts, self.settings.reput_base_delay_seconds
        )

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Transform, re-put what was split off (raising if that fails), publish metrics, respond."""
        outcome = self.transformer.process(event)
        if outcome.reputs:
            stream = stream_name_from_arn(event["deliveryStreamArn"])
            self.reputter(event.get("region")).put(stream, outcome.reputs)
        publish(outcome)
        return outcome.response()


def publish(outcome: Outcome) -> None:
    """Log the summary and the reason of every failed record; add EMF metrics."""
    stats = outcome.stats
    for rec in outcome.records:
        if rec.result == "ProcessingFailed":
            logger.warning("record failed", extra={"record_id": rec.record_id, "reason": rec.reason})
    logger.info(
        "transformed",
        extra={
            "records_in": stats.records_in,
            "ok": stats.ok,
            "dropped": stats.dropped,
            "processing_failed": stats.processing_failed,
            "events": stats.events,
            "invalid": stats.invalid,
            "unattributed": stats.unattributed,
            "reput_records": stats.reput_records,
            "reput_events": stats.reput_events,
            "passthrough_records": stats.passthrough_records,
            "loop_guard_events": stats.loop_guard_events,
            "shapes": dict(stats.shapes),
        },
    )
    if is_metrics_disabled():  # single_metric flushes on its own, and Metrics would only accumulate
        return
    for name, value in (
        ("Events", stats.events),
        ("Invalid", stats.invalid),
        ("Unattributed", stats.unattributed),
        ("Reingested", stats.reput_records),
        ("ReingestedEvents", stats.reput_events),
        ("ProcessingFailed", stats.processing_failed),
        ("LoopGuardDropped", stats.loop_guard_events),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for entity_type, pico in sorted(stats.cost_pico_by_type.items()):
        with single_metric(
            name="EstimatedCostUSD",
            unit=MetricUnit.NoUnit,
            value=pico / PICO_PER_USD,
            namespace="BedrockSpend",
        ) as metric:
            metric.add_dimension(name="entity_type", value=entity_type)


@cache
def transform_app() -> TransformApp:
    """The execution environment's app, built on first use from the environment's settings."""
    return TransformApp(Settings.from_env())
