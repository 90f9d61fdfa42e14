"""Analytics over the spend records: named Athena queries, run locally (DuckDB) or in Athena,
a terminal / JSON / CSV / HTML report, and the billing export.

Public API:

* :func:`run_report` — run report queries with any runner;
* :func:`write_html_report` — local data directory → self-contained HTML file;
* :func:`export_billing` — local data directory → Avro + Parquet billing lines and manifest;
* :class:`~infra.analytics.local.LocalRunner`, :class:`~infra.analytics.athena.AthenaRunner`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.analytics.billing import BillingResult, export_billing
from infra.analytics.queries import REPORT_QUERIES, month_period
from infra.analytics.results import QueryResult, Runner

__all__ = [
    "REPORT_QUERIES",
    "BillingResult",
    "QueryResult",
    "export_billing",
    "period_label",
    "run_report",
    "write_html_report",
]


def period_label(month: str | None) -> str:
    """Human label of the report period."""
    return month if month is not None else "all time"


def run_report(
    runner: Runner,
    month: str | None = None,
    names: Sequence[str] = REPORT_QUERIES,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, QueryResult]:
    """Run the named queries for ``month`` (``None`` = whole history); results by name, in order."""
    params: dict[str, object] = {**month_period(month), **(overrides or {})}
    results: dict[str, QueryResult] = {}
    for name in names:
        query = runner.queries[name]
        wanted = {k: v for k, v in params.items() if k in query.params}
        results[name] = runner.run(name, wanted)
    return results


def titles_of(runner: Runner) -> dict[str, str]:
    """Query titles by name."""
    return {name: str(q.title) for name, q in runner.queries.items()}


def write_html_report(data_dir: Path, out_file: Path, month: str | None = None) -> Path:
    """Run the report locally over ``data_dir`` and write a self-contained HTML file."""
    from infra.analytics.html_report import build_html, write_html
    from infra.analytics.local import LocalRunner

    runner = LocalRunner(Path(data_dir))
    try:
        results = run_report(runner, month)
        return write_html(Path(out_file), build_html(results, titles_of(runner), period_label(month)))
    finally:
        runner.close()
