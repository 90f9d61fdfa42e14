"""Adapter: put split-off records back into the delivery stream with ``PutRecordBatch``.

Contract (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html): at most
500 records and 4 MiB per call, 1,000 KiB per record. A response with ``FailedPutCount > 0`` lists
per-record errors in order; only those records are sent again, with exponential backoff and full
jitter, at most ``max_attempts`` times. Throttling and service errors of the whole call are retried
the same way (on top of botocore's own retries). If records still fail, :class:`ReputError` is raised
so that the Lambda invocation fails and Firehose retries the whole batch — duplicates are possible
then (queries de-duplicate by ``request_id``), loss is not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1_000 * 1024
_RETRYABLE_CALL_ERRORS = frozenset(
    {"ServiceUnavailableException", "ThrottlingException", "LimitExceededException", "InternalFailure"}
)


class ReputError(RuntimeError):
    """Some records could not be re-put after every attempt."""


def stream_name_from_arn(arn: str) -> str:
    """``deliverystream/<name>`` → ``<name>``; raises ``ValueError`` for anything else."""
    _, _, name = arn.rpartition(":deliverystream/")
    if not name or not arn.startswith("arn:"):
        raise ValueError(f"not a Firehose delivery stream ARN: {arn!r}")
    return name


def batches(payloads: list[bytes]) -> Iterator[list[bytes]]:
    """Group payloads into PutRecordBatch calls within the record-count and byte limits."""
    batch: list[bytes] = []
    size = 0
    for payload in payloads:
        if len(payload) > MAX_RECORD_BYTES:
            raise ValueError(f"re-put record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(payload) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(payload)
        size += len(payload)
    if batch:
        yield batch


class Reputter:
    """Puts payloads into a delivery stream; the boto3 Firehose client is passed in."""

    def __init__(
        self,
        client: Any,
        max_attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.calls = 0
        self.retried_records = 0

    def _backoff(self, attempt: int) -> None:
        self.sleep(random.uniform(0, self.base_delay * (2**attempt)))

    def put(self, stream_name: str, payloads: list[bytes]) -> int:
        """Put every payload; returns the number of calls made. Raises :class:`ReputError`."""
        calls_before = self.calls
        for batch in batches(payloads):
            self._put_batch(stream_name, batch)
        return self.calls - calls_before

    def _put_batch(self, stream_name: str, batch: list[bytes]) -> None:
        pending = batch
        last_error = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self._backoff(attempt)
            self.calls += 1
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=stream_name, Records=[{"Data": p} for p in pending]
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _RETRYABLE_CALL_ERRORS:
                    raise ReputError(f"PutRecordBatch failed: {code}: {exc}") from exc
                last_error = code
                continue
            if not response.get("FailedPutCount"):
                return
            results = response.get("RequestResponses") or []
            failed = [p for p, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
            if len(results) != len(pending):
                failed = pending  # malformed response: retry everything (duplicates are tolerated)
            last_error = next((r.get("ErrorCode", "") for r in results if r.get("ErrorCode")), last_error)
            self.retried_records += len(failed)
            pending = failed
        raise ReputError(
            f"{len(pending)} of {len(batch)} records not re-put after {self.max_attempts} attempts "
            f"(last error: {last_error or 'unknown'})"
        )
