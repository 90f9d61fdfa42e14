"""Firehose's PutRecord / PutRecordBatch over its real wire protocol, feeding local engines.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (default port 4573) that speaks AWS JSON 1.1
(``POST /``, ``Content-Type: application/x-amz-json-1.1``, ``X-Amz-Target:
Firehose_20150804.<Operation>``), so any boto3 firehose client pointed at it
(``AWS_ENDPOINT_URL_FIREHOSE=http://127.0.0.1:4573`` or ``endpoint_url=``) puts records into the
:class:`~infra.local.firehose_engine.FirehoseEngine` registered under the stream's name.

Contract (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html ,
https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecord.html):

- ``PutRecordBatch``: 1-500 records, each ``Data`` at most 1,000 KiB (1,024,000 bytes) before base64,
  at most 4 MiB of data per call. Violations of the member constraints (count, record size) answer
  ``ValidationException`` (HTTP 400, the message of AWS's constraint validator); a call over 4 MiB
  answers ``InvalidArgumentException`` (400). Unknown stream: ``ResourceNotFoundException`` (400).
- The response is ``{FailedPutCount, Encrypted, RequestResponses: [{RecordId} | {ErrorCode,
  ErrorMessage}]}`` in request order; a record that failed was not ingested and must be retried by
  the caller (fault injection: ``failure=`` gives it ``ServiceUnavailableException``).
- ``throttle=`` makes whole calls fail with ``ServiceUnavailableException`` (HTTP 500 here; note
  botocore retries 5xx unless the client sets ``retries={"max_attempts": 1}``).
- Any other operation answers ``UnknownOperationException`` (400) as a JSON error.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.local.firehose_engine import FirehoseEngine

DEFAULT_PORT = 4573
TARGET_PREFIX = "Firehose_20150804."
MAX_BATCH_RECORDS = 500
MAX_RECORD_BYTES = 1_024_000
MAX_CALL_BYTES = 4 * 1024 * 1024
CONTENT_TYPE = "application/x-amz-json-1.1"
_NULL_MEMBER = (
    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null"
)

#: Decides whether one record of a call fails: ``(stream name, index in call, data) -> fail?``
FailurePolicy = Callable[[str, int, bytes], bool]
#: Decides whether a whole call is throttled: ``(operation, stream name) -> throttle?``
ThrottlePolicy = Callable[[str, str], bool]


class ApiError(Exception):
    """An AWS JSON error: ``__type`` and ``message`` with an HTTP status."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def failure_fraction(fraction: float, seed: int | None = None) -> FailurePolicy:
    """A policy failing about ``fraction`` of records, reproducibly when ``seed`` is given."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def decide(stream: str, index: int, data: bytes) -> bool:
        with lock:
            return rng.random() < fraction

    return decide


class FirehoseApiServer:
    """HTTP front end for local engines. ``start()`` / ``stop()`` or use as a context manager."""

    def __init__(
        self,
        engines: Iterable[FirehoseEngine] = (),
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        failure: FailurePolicy | float | None = None,
        throttle: ThrottlePolicy | bool | None = None,
        account_id: str = "123456789012",
    ) -> None:
        self.host = host
        self.port = port
        self.account_id = account_id
        self._engines: dict[str, FirehoseEngine] = {}
        for engine in engines:
            self.register(engine)
        self.failure: FailurePolicy | None = None
        self.throttle: ThrottlePolicy | None = None
        self.set_failure(failure)
        self.set_throttle(throttle)
        self.calls: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ configuration
    def register(self, engine: FirehoseEngine) -> None:
        """Route puts for ``engine.config.name`` to ``engine``."""
        self._engines[engine.config.name] = engine

    def set_failure(self, failure: FailurePolicy | float | None) -> None:
        """Per-record failure injection: a fraction in [0, 1], a policy callable, or None (off)."""
        if failure is None or callable(failure):
            self.failure = failure
        else:
            self.failure = failure_fraction(float(failure))

    def set_throttle(self, throttle: ThrottlePolicy | bool | None) -> None:
        """Whole-call throttling: True (every call), a policy callable, or None/False (off)."""
        if throttle is True:
            self.throttle = lambda operation, stream: True
        elif throttle is None or throttle is False:
            self.throttle = None
        else:
            self.throttle = throttle

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` for ``boto3.client("firehose", endpoint_url=...)``."""
        return f"http://{self.host}:{self.port}"

    # --------------------------------------------------------------- lifecycle
    def start(self) -> FirehoseApiServer:
        """Serve in a daemon thread; with ``port=0`` the OS picks a free port (read ``.port``)."""
        if self._server is not None:
            return self
        api = self

        class Handler(_Handler):
            server_api = api

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="firehose-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FirehoseApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- operations
    def dispatch(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one operation; raises :class:`ApiError` for AWS errors."""
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if operation == "PutRecord":
            record = body.get("Record")
            if not isinstance(record, dict):
                raise ApiError("ValidationException", _NULL_MEMBER.format("record"))
            response = self._put(operation, body, [record])
            entry = response["RequestResponses"][0]
            if "ErrorCode" in entry:
                raise ApiError(entry["ErrorCode"], entry["ErrorMessage"], 500)
            return {"RecordId": entry["RecordId"], "Encrypted": False}
        if operation == "PutRecordBatch":
            records = body.get("Records")
            if not isinstance(records, list):
                raise ApiError("ValidationException", _NULL_MEMBER.format("records"))
            return self._put(operation, body, records)
        raise ApiError(
            "UnknownOperationException", f"Operation {operation} is not supported by the local Firehose"
        )

    def _engine(self, body: dict[str, Any]) -> tuple[str, FirehoseEngine]:
        name = body.get("DeliveryStreamName")
        if not isinstance(name, str) or not name:
            raise ApiError("ValidationException", _NULL_MEMBER.format("deliveryStreamName"))
        engine = self._engines.get(name)
        if engine is None:
            raise ApiError(
                "ResourceNotFoundException", f"Firehose {name} under account {self.account_id} not found."
            )
        return name, engine

    def _put(self, operation: str, body: dict[str, Any], records: list[Any]) -> dict[str, Any]:
        name, engine = self._engine(body)
        if not 1 <= len(records) <= MAX_BATCH_RECORDS:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{len(records)}' at 'records' failed to satisfy "
                f"constraint: Member must have length {'less' if records else 'greater'} than or equal to "
                f"{MAX_BATCH_RECORDS if records else 1}",
            )
        decoded: list[bytes] = []
        for i, record in enumerate(records, start=1):
            try:
                data = base64.b64decode(record["Data"], validate=True)
            except (KeyError, TypeError, binascii.Error, ValueError) as exc:
                raise ApiError("SerializationException", f"record {i}: Data is not a base64 blob") from exc
            if len(data) > MAX_RECORD_BYTES:
                raise ApiError(
                    "ValidationException",
                    f"1 validation error detected: Value at 'records.{i}.member.data' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}",
                )
            decoded.append(data)
        total = sum(len(d) for d in decoded)
        if total > MAX_CALL_BYTES:
            raise ApiError(
                "InvalidArgumentException",
                f"Records size exceeds {MAX_CALL_BYTES} bytes limit (was {total} bytes)",
            )
        if self.throttle is not None and self.throttle(operation, name):
            raise ApiError("ServiceUnavailableException", "Slow down.", 500)
        failed = [self.failure is not None and self.failure(name, i, d) for i, d in enumerate(decoded)]
        ids = iter(engine.put_records([d for d, f in zip(decoded, failed, strict=True) if not f]))
        responses: list[dict[str, str]] = []
        for is_failed in failed:
            if is_failed:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            else:
                responses.append({"RecordId": next(ids)})
        return {"FailedPutCount": sum(failed), "Encrypted": False, "RequestResponses": responses}


class _Handler(BaseHTTPRequestHandler):
    server_api: FirehoseApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        try:
            if not target.startswith(TARGET_PREFIX):
                raise ApiError("UnknownOperationException", f"unknown X-Amz-Target {target!r}")
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                raise ApiError("SerializationException", f"request body is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise ApiError("SerializationException", "request body is not a JSON object")
            result = self.server_api.dispatch(target[len(TARGET_PREFIX) :], body)
            self._send(200, result)
        except ApiError as err:
            self._send(err.status, {"__type": err.error_type, "message": err.message})

    def do_GET(self) -> None:
        self._send(400, {"__type": "UnknownOperationException", "message": "use POST with X-Amz-Target"})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""
