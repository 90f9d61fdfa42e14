"""Backfill: feed historical Bedrock invocation logs through the same transform.

Public API:

* sources — :class:`~infra.backfill.sources.LogGroupSource` (``FilterLogEvents`` over a time
  window), :class:`~infra.backfill.sources.S3Source` (Bedrock's S3 log delivery);
* sinks — :class:`~infra.backfill.sinks.StreamSink` (``PutRecordBatch`` of CloudWatch-Logs-shaped
  gzip envelopes into the delivery stream), :class:`~infra.backfill.sinks.DirectSink` (the transform
  in-process, NDJSON.gz objects with deterministic keys under the spend prefix);
* :class:`~infra.backfill.runner.Backfill` — the resumable, rate-limited loop;
* checkpoints — :func:`~infra.backfill.checkpoint.open_store` (local JSON file or S3 object).
"""

from __future__ import annotations

from infra.backfill.checkpoint import Checkpoint, CheckpointMismatch, Counts, open_store
from infra.backfill.runner import Backfill, PageDone, RateLimiter
from infra.backfill.sinks import DirectSink, SinkResult, StreamSink, build_envelopes
from infra.backfill.sources import LogGroupSource, Page, S3Location, S3Source, SourceEvent

__all__ = [
    "Backfill",
    "Checkpoint",
    "CheckpointMismatch",
    "Counts",
    "DirectSink",
    "LogGroupSource",
    "Page",
    "PageDone",
    "RateLimiter",
    "S3Location",
    "S3Source",
    "SinkResult",
    "SourceEvent",
    "StreamSink",
    "build_envelopes",
    "open_store",
]
