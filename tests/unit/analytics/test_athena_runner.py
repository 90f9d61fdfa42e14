"""Athena runner against botocore's Stubber with real-shaped responses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra.analytics.athena import AthenaQueryError, AthenaRunner, Progress
from infra.analytics.queries import month_period

QID = "5c2f0bd5-0a3e-4a3e-9d39-2d1d9c1f7e11"


def _execution(state: str, scanned: int = 0, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "SubmissionDateTime": "2025-11-07T10:00:00Z"}
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {
            "QueryExecutionId": QID,
            "Query": "SELECT ...",
            "StatementType": "DML",
            "WorkGroup": "analytics",
            "Status": status,
            "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 120},
        }
    }


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


COLUMNS = [
    {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": "user_id",
        "Label": "user_id",
        "Type": "varchar",
        "Precision": 2147483647,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": True,
    },
    {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": "requests",
        "Label": "requests",
        "Type": "bigint",
        "Precision": 19,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": False,
    },
    {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": "cost_usd",
        "Label": "cost_usd",
        "Type": "decimal",
        "Precision": 38,
        "Scale": 12,
        "Nullable": "UNKNOWN",
        "CaseSensitive": False,
    },
]


def _runner(client: Any, progress: list[Progress]) -> AthenaRunner:
    return AthenaRunner(
        client, "analytics", "bedrock_spend", on_progress=progress.append, sleep=lambda _: None
    )


def test_start_poll_and_paginated_results() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    progress: list[Progress] = []
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": QID},
            {
                "QueryString": ANY,
                "QueryExecutionContext": {"Database": "bedrock_spend"},
                "WorkGroup": "analytics",
            },
        )
        for state, scanned in (("QUEUED", 0), ("RUNNING", 1024), ("SUCCEEDED", 4096)):
            stub.add_response("get_query_execution", _execution(state, scanned), {"QueryExecutionId": QID})
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "Rows": [_row("user_id", "requests", "cost_usd"), _row("jane", "2", "0.071033600000")],
                    "ResultSetMetadata": {"ColumnInfo": COLUMNS},
                },
                "NextToken": "page-2",
                "UpdateCount": 0,
            },
            {"QueryExecutionId": QID, "MaxResults": 1000},
        )
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {"Rows": [_row("bob", "1", None)], "ResultSetMetadata": {"ColumnInfo": COLUMNS}},
                "UpdateCount": 0,
            },
            {"QueryExecutionId": QID, "MaxResults": 1000, "NextToken": "page-2"},
        )
        result = _runner(client, progress).run("top_users", {**month_period("2025-11"), "limit": 10})
        stub.assert_no_pending_responses()
    assert result.columns == ("user_id", "requests", "cost_usd")
    assert result.rows == (("jane", 2, Decimal("0.071033600000")), ("bob", 1, None))
    assert [p.state for p in progress] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert progress[-1].scanned_bytes == 4096


def test_sent_sql_reads_the_catalogue_table_with_literal_parameters() -> None:
    runner = AthenaRunner(object(), "wg", "db")
    sql = runner.sql("spend_by_model", month_period("2025-11"))
    assert "FROM spend_all AS s" in sql and "'2025-11-01'" in sql and ":start_dt" not in sql


def test_failed_query_raises_with_reason() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID})
        stub.add_response("get_query_execution", _execution("RUNNING"))
        stub.add_response(
            "get_query_execution",
            _execution("FAILED", reason="TABLE_NOT_FOUND: line 1:8: Table spend_all does not exist"),
        )
        with pytest.raises(AthenaQueryError, match="TABLE_NOT_FOUND"):
            _runner(client, []).run("spend_by_model", month_period("2025-11"))
