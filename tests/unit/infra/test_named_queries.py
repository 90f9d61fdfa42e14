"""The template's Athena named queries are generated from schemas/queries/*.sql and kept in step."""

from __future__ import annotations

import sqlglot

from infra.analytics.queries import load_queries
from infra.local.cfn import load_template
from infra.named_queries import TEMPLATE, positional_sql, updated_template


def test_template_is_up_to_date() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert updated_template(text) == text, "run: python -m infra.named_queries"


def test_one_named_query_per_sql_file_with_positional_parameters() -> None:
    resources = load_template(TEMPLATE)["Resources"]
    named = {k: v for k, v in resources.items() if v["Type"] == "AWS::Athena::NamedQuery"}
    queries = load_queries()
    assert len(named) == len(queries)
    wanted = {"spend_by_entity_day", "top_models_by_entity", "unattributed_invalid", "tenant_month_to_date"}
    assert wanted <= set(queries)
    for name in queries:
        sql, order = positional_sql(name)
        assert sql.count("?") == len(order)
        sqlglot.parse_one(sql, read="trino")
        assert "spend_records_all" in sql
