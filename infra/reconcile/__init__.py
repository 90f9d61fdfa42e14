"""Reconcile attributed spend against the AWS bill (Cost Explorer).

Public API: :func:`~infra.reconcile.costexplorer.bedrock_services`,
:func:`~infra.reconcile.costexplorer.daily_costs`, :func:`~infra.reconcile.report.attributed_days`,
:func:`~infra.reconcile.report.reconcile` and the :class:`~infra.reconcile.report.Reconciliation`
it returns; :func:`run_reconcile` puts them together for one month.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from infra.analytics.queries import month_period
from infra.analytics.results import Runner
from infra.reconcile.costexplorer import BilledDay, bedrock_services, classify, daily_costs
from infra.reconcile.report import EXPLANATIONS, GAP_REASONS, Reconciliation, attributed_days, reconcile

__all__ = [
    "EXPLANATIONS",
    "GAP_REASONS",
    "BilledDay",
    "Reconciliation",
    "attributed_days",
    "bedrock_services",
    "classify",
    "daily_costs",
    "reconcile",
    "run_reconcile",
]


def run_reconcile(
    month: str,
    runner: Runner,
    ce: Any,
    *,
    threshold_pct: Decimal,
    today: date | None = None,
    recent_days: int = 2,
    extra_services: tuple[str, ...] = (),
    unattributed_threshold_pct: Decimal | None = None,
) -> tuple[Reconciliation, list[str]]:
    """Query the records and Cost Explorer for ``month`` (``YYYY-MM``); the result and the services."""
    period = month_period(month)
    start, end = period["start_dt"], period["end_dt"]
    services = sorted({*bedrock_services(ce, start, end), *extra_services})
    billed = daily_costs(ce, start, end, services)
    attributed = attributed_days(runner.run("reconcile_daily", period))
    result = reconcile(
        month,
        start,
        end,
        billed,
        attributed,
        threshold_pct=threshold_pct,
        today=today or date.today(),
        recent_days=recent_days,
        unattributed_threshold_pct=unattributed_threshold_pct,
    )
    return result, services
