"""The whole pipeline on the local stack, wired the way AWS wires it:

Bedrock-shaped events → ``PutLogEvents`` into the Bedrock log group (moto) → the subscription filter
(:mod:`infra.local.subscription`) → the delivery engine (:mod:`infra.local.firehose_engine`), which
invokes ``transform.handler.lambda_handler`` with real Firehose events and whose wire-protocol
front (:mod:`infra.local.firehose_api`) takes the transform's own ``PutRecordBatch`` re-puts →
S3 (moto) → ``ObjectCreated`` notification → SQS (moto) → ``transform.mirror.lambda_handler`` →
per-entity log groups (moto).

Every name comes from ``infra/template.yaml`` through :func:`infra.local.provision.provision`; the
Lambda functions get their template environment plus endpoint variables pointing at the emulator.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.clients import Clients
from infra.local.firehose_api import FirehoseApiServer
from infra.local.firehose_engine import FirehoseEngine
from infra.local.mirror_runner import DrainStats, drain_queue, group_events
from infra.local.provision import DEFAULT_TEMPLATE, FunctionSpec, LocalResources, provision
from infra.local.subscription import SubscriptionFilterEmulator
from infra.local.summary import Summary, summarize

#: PutLogEvents limits (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html)
MAX_PUT_EVENTS = 10_000
MAX_PUT_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_SPAN_MS = 24 * 3600 * 1000 - 1
LOCAL_LAMBDA_ENV = {
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass
class LambdaContext:
    """The attributes of a Lambda context object that the functions (and Powertools) read."""

    spec: FunctionSpec
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def function_name(self) -> str:
        return self.spec.name

    @property
    def invoked_function_arn(self) -> str:
        return self.spec.arn

    @property
    def memory_limit_in_mb(self) -> int:
        return 1024

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return self.spec.timeout * 1000


def put_log_batches(events: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Split chronological events into PutLogEvents calls within the count, size and span limits."""
    batch: list[tuple[int, str]] = []
    size = 0
    for ts, message in events:
        item = len(message.encode()) + EVENT_OVERHEAD
        if batch and (
            len(batch) >= MAX_PUT_EVENTS or size + item > MAX_PUT_BYTES or ts - batch[0][0] > MAX_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        batch.append((ts, message))
        size += item
    if batch:
        yield batch


@dataclass
class Progress:
    """Counters the CLI renders as progress bars."""

    written: int = 0
    delivered_records: int = 0
    mirrored_messages: int = 0


class LocalPipeline:
    """The provisioned local stack plus the in-process pieces that play Firehose and Lambda."""

    def __init__(
        self,
        clients: Clients,
        *,
        template: Path = DEFAULT_TEMPLATE,
        parameters: dict[str, str] | None = None,
        firehose_port: int = 0,
    ) -> None:
        self.clients = clients
        self.resources: LocalResources = provision(
            template,
            s3=clients("s3"),
            logs=clients("logs"),
            firehose=clients("firehose"),
            sqs=clients("sqs"),
            dynamodb=clients("dynamodb"),
            region=clients.region,
            parameters=parameters,
        )
        res = self.resources
        description = clients("firehose").describe_delivery_stream(
            DeliveryStreamName=res.delivery_stream_name
        )
        self.engine = FirehoseEngine(
            description["DeliveryStreamDescription"], clients("s3"), invoke=self._invoke_transform
        )
        self.api = FirehoseApiServer([self.engine], port=firehose_port).start()
        self.subscription = SubscriptionFilterEmulator(
            clients("logs"),
            res.bedrock_log_group,
            res.subscription_filter_name,
            res.subscription_filter_pattern,
            self.engine.put_records,
            owner=res.account_id,
        )
        self._saved_env: dict[str, str | None] = {}
        self._set_lambda_environment()
        self.progress = Progress()
        self.mirror_stats = DrainStats()
        self.events_written = 0
        self.subscription.send_control_message()

    # -------------------------------------------------------------- Lambda functions in-process
    def _set_lambda_environment(self) -> None:
        """Give the in-process functions their template environment and the emulator's endpoints."""
        # Metrics are switched off locally (LOCAL_LAMBDA_ENV); Powertools would warn on every call.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        env = dict(self.clients.environment())
        env["AWS_ENDPOINT_URL_FIREHOSE"] = self.api.endpoint_url
        env.update(self.resources.transform.environment)
        env.update(self.resources.mirror.environment)
        env.update(LOCAL_LAMBDA_ENV)
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        from transform.mirror import mirror_app
        from transform.runtime import transform_app

        transform_app.cache_clear()
        mirror_app.cache_clear()

    def _invoke_transform(self, event: dict[str, Any]) -> dict[str, Any]:
        from transform.handler import lambda_handler

        response: dict[str, Any] = lambda_handler(event, LambdaContext(self.resources.transform))
        self.progress.delivered_records += len(event.get("records") or [])
        return response

    def _invoke_mirror(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from transform.mirror import lambda_handler

        response: dict[str, Any] = lambda_handler(event, LambdaContext(self.resources.mirror))
        self.progress.mirrored_messages += len(event.get("Records") or [])
        return response

    # ------------------------------------------------------------------------------ traffic
    def write_events(
        self, events: Iterable[tuple[int, str]], on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Write Bedrock-shaped events to the Bedrock log group with PutLogEvents; returns the count."""
        logs = self.clients("logs")
        written = 0
        for batch in put_log_batches(list(events)):
            logs.put_log_events(
                logGroupName=self.resources.bedrock_log_group,
                logStreamName=self.resources.bedrock_log_stream,
                logEvents=[{"timestamp": ts, "message": m} for ts, m in batch],
            )
            written += len(batch)
            self.progress.written += len(batch)
            if on_batch is not None:
                on_batch(len(batch))
        self.events_written += written
        return written

    def pump(self) -> int:
        """Deliver what the subscription has not sent yet and let the engine work off due buffers."""
        sent = self.subscription.poll()
        self.engine.tick()
        return sent

    def settle(self) -> None:
        """Flush Firehose (re-puts included) and mirror until the queue is empty."""
        self.subscription.poll()
        self.engine.flush()
        self.drain_mirror()

    def drain_mirror(self) -> DrainStats:
        """Run the mirror over every queued S3 notification."""
        stats = drain_queue(
            self.clients("sqs"), self.resources.queue_url, self._invoke_mirror, max_invocations=100_000
        )
        for name in ("invocations", "received", "deleted", "failed", "handler_errors"):
            setattr(self.mirror_stats, name, getattr(self.mirror_stats, name) + getattr(stats, name))
        return stats

    def mirrored_counts(self, prefix: str = "/bedrock/") -> dict[str, int]:
        """Every mirrored log group under ``prefix`` with its event count, read back from the emulator."""
        logs = self.clients("logs")
        return {
            g["logGroupName"]: len(group_events(logs, g["logGroupName"]))
            for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
            for g in page["logGroups"]
        }

    def summary(self, events_in: int) -> Summary:
        """What landed in S3 and in the mirrored groups, for ``events_in`` events written."""
        res = self.resources
        return summarize(
            self.clients("s3"),
            res.bucket_name,
            res.spend_prefix,
            res.error_output_prefix,
            events_in,
            self.mirrored_counts(),
        )

    def close(self) -> None:
        """Stop the Firehose front and restore the process environment."""
        self.api.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def __enter__(self) -> LocalPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
