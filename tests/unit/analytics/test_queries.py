"""Named queries: every file parses as Trino SQL, declares its parameters, renders safely."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from infra.analytics.queries import (
    REPORT_QUERIES,
    QueryError,
    load_queries,
    month_period,
    parse_query_text,
)

QUERIES = load_queries()


def test_every_report_query_and_billing_lines_exist() -> None:
    assert set(REPORT_QUERIES) | {"billing_lines", "reconcile_daily"} == set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_parses_as_trino_and_dedupes_by_request_id(name: str) -> None:
    # Given the raw file, When parsed as Trino with errors raised (and the shared deduped CTE added)
    query = QUERIES[name]
    (raw,) = sqlglot.parse(query.sql, read="trino", error_level=ErrorLevel.RAISE)
    assert raw is not None
    tree = query.parse()
    # Then it starts with a comment naming it and it de-duplicates through row_number over request_id
    assert query.sql.startswith(f"-- name: {name}\n")
    windows = [w for w in tree.find_all(exp.Window) if isinstance(w.this, exp.RowNumber)]
    assert any("request_id" in w.sql("trino") for w in windows)
    # And its rendered forms parse in both dialects
    params = {**month_period("2025-11"), "limit": 5, "top_models": 2, "small_output_tokens": 100}
    sqlglot.parse_one(query.render(params, "trino"), read="trino", error_level=ErrorLevel.RAISE)
    sqlglot.parse_one(query.render(params, "duckdb"), read="duckdb", error_level=ErrorLevel.RAISE)


def test_placeholders_become_literal_nodes_not_pasted_text() -> None:
    query = QUERIES["top_users"]
    sql = query.render({"start_dt": "2025-11-01", "end_dt": "2025-12-01", "limit": 3}, "trino")
    assert ":start_dt" not in sql and "'2025-11-01'" in sql and "LIMIT 3" in sql


@pytest.mark.parametrize(
    "values",
    [
        {"start_dt": "2025-11-01' OR 1=1 --", "end_dt": "2025-12-01"},
        {"start_dt": "2025-02-30", "end_dt": "2025-12-01"},
        {"start_dt": "2025-11-01", "end_dt": "2025-12-01", "limit": "3; DROP TABLE spend"},
        {"start_dt": "2025-11-01", "end_dt": "2025-12-01", "limit": 0},
        {"start_dt": "2025-11-01", "end_dt": "2025-12-01", "limit": True},
    ],
)
def test_invalid_parameter_values_are_rejected(values: dict[str, object]) -> None:
    with pytest.raises(QueryError):
        QUERIES["top_users"].render(values)


def test_table_is_renamed_for_athena_but_not_ctes() -> None:
    sql = QUERIES["premium_model_share"].render(
        {**month_period("2025-11"), "top_models": 1, "small_output_tokens": 1}, "trino", table="spend_all"
    )
    tables = {t.name for t in sqlglot.parse_one(sql, read="trino").find_all(exp.Table)}
    assert "spend_all" in tables and "spend" not in tables


def test_month_period_and_header_checks() -> None:
    assert month_period("2025-12") == {"start_dt": "2025-12-01", "end_dt": "2026-01-01"}
    with pytest.raises(QueryError):
        month_period("2025-13")
    with pytest.raises(QueryError, match="placeholders"):
        parse_query_text("-- name: x\n-- title: X\n-- description: d\nSELECT * FROM spend WHERE dt = :day")
