"""Run the named queries in Amazon Athena (boto3 client passed in).

``StartQueryExecution`` in a workgroup with the database as context, ``GetQueryExecution`` polled
until ``SUCCEEDED`` / ``FAILED`` / ``CANCELLED`` (states ``QUEUED`` and ``RUNNING`` report progress
through a callback), then ``GetQueryResults`` through its paginator; the first row of the first
page is the header (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html).
Values arrive as strings and are typed from ``ResultSetMetadata.ColumnInfo`` (``decimal`` →
:class:`~decimal.Decimal`, never float). Queries read ``spend_all`` by default: the projected table
``spend`` needs an entity_id equality filter (see ``schemas/glue_table.sql``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infra.analytics.queries import QUERIES_DIR, NamedQuery, load_queries
from infra.analytics.results import QueryResult, Value

DEFAULT_TABLE = "spend_all"
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOAT_TYPES = frozenset({"double", "float", "real"})


class AthenaQueryError(RuntimeError):
    """The query ended FAILED or CANCELLED, or did not finish in time."""


@dataclass(frozen=True)
class Progress:
    """One poll of a running query."""

    query_execution_id: str
    state: str
    elapsed_seconds: float
    scanned_bytes: int


def convert(text: str | None, kind: str) -> Value:
    """An Athena result string as a Python value of its column type."""
    if text is None:
        return None
    kind = kind.lower()
    if kind.startswith("decimal"):
        return Decimal(text)
    if kind in _INTEGER_TYPES:
        return int(text)
    if kind in _FLOAT_TYPES:
        return float(text)
    if kind == "boolean":
        return text.lower() == "true"
    return text


class AthenaRunner:
    """Runs named queries in one workgroup and database."""

    def __init__(
        self,
        client: Any,
        workgroup: str,
        database: str,
        table: str = DEFAULT_TABLE,
        queries: Mapping[str, NamedQuery] | None = None,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 600.0,
        on_progress: Callable[[Progress], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.workgroup = workgroup
        self.database = database
        self.table = table
        self.queries = dict(queries) if queries is not None else load_queries(QUERIES_DIR)
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.on_progress = on_progress
        self._sleep = sleep
        self._clock = clock

    def sql(self, name: str, params: Mapping[str, object]) -> str:
        """The Trino SQL sent to Athena for a named query."""
        return self.queries[name].render(params, dialect="trino", table=self.table)

    def start(self, sql: str) -> str:
        """Start one query; returns its execution id."""
        response = self.client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
        )
        return str(response["QueryExecutionId"])

    def wait(self, execution_id: str) -> dict[str, Any]:
        """Poll until the query ends; returns the final ``QueryExecution``; raises unless SUCCEEDED."""
        started = self._clock()
        while True:
            execution: dict[str, Any] = self.client.get_query_execution(QueryExecutionId=execution_id)[
                "QueryExecution"
            ]
            status = execution.get("Status", {})
            state = str(status.get("State", "QUEUED"))
            elapsed = self._clock() - started
            if self.on_progress is not None:
                scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
                self.on_progress(Progress(execution_id, state, elapsed, scanned))
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                raise AthenaQueryError(f"query {execution_id} {state}: {reason or 'no reason given'}")
            if elapsed > self.timeout_seconds:
                self.client.stop_query_execution(QueryExecutionId=execution_id)
                raise AthenaQueryError(f"query {execution_id} still {state} after {elapsed:.0f} s; stopped")
            self._sleep(self.poll_seconds)

    def results(self, name: str, execution_id: str) -> QueryResult:
        """Every row of a finished query (paginated ``GetQueryResults``), typed."""
        paginator = self.client.get_paginator("get_query_results")
        columns: tuple[str, ...] = ()
        types: tuple[str, ...] = ()
        rows: list[tuple[Value, ...]] = []
        header_skipped = False
        for page in paginator.paginate(QueryExecutionId=execution_id, PaginationConfig={"PageSize": 1000}):
            result_set = page["ResultSet"]
            if not columns:
                info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = tuple(c["Name"] for c in info)
                types = tuple(c["Type"] for c in info)
            for raw in result_set.get("Rows", []):
                cells = [d.get("VarCharValue") for d in raw.get("Data", [])]
                if not header_skipped:
                    header_skipped = True
                    if tuple(cells) == columns:
                        continue
                rows.append(tuple(convert(v, t) for v, t in zip(cells, types, strict=True)))
        return QueryResult(name, columns, types, tuple(rows))

    def run(self, name: str, params: Mapping[str, object]) -> QueryResult:
        """Start, wait for and fetch one named query."""
        execution_id = self.start(self.sql(name, params))
        self.wait(execution_id)
        return self.results(name, execution_id)
