"""Reconciliation: the bill (Cost Explorer) next to the attributed spend (the analytics queries).

Per day::

    billed       = everything Cost Explorer shows for the Bedrock services (after credits, with tax)
    token usage  = the billed usage lines that are token usage (what the pipeline prices)
    recorded     = attributed + unattributed (estimated cost of the de-duplicated spend records)
    gap          = token usage - recorded,  gap % = gap / token usage

The difference between *billed* and *token usage* is explained line by line (credits, tax, refunds,
provisioned throughput, non-token units such as images or knowledge-base units, other charges);
``gap`` is what is left **unexplained** by the bill's own lines. Known reasons for it: pricing drift
(the catalogue's rates vs the rates billed), requests the catalogue could not price (counted as
``unpriced``), records not delivered yet (the last ``recent_days`` days; Cost Explorer also lags by
up to a day and marks such results ``Estimated``), and usage in accounts or regions whose logs are
not collected. A day fails the check when it is complete (neither recent nor estimated) and
``|gap %| > threshold``; the month fails when its total ``|gap %|`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from infra.analytics.results import QueryResult
from infra.reconcile.costexplorer import BilledDay

ZERO = Decimal(0)
HUNDRED = Decimal(100)
EXPLANATIONS: dict[str, str] = {
    "credits": "promotional credits reduce the bill, not the usage the pipeline prices",
    "tax": "tax is billed, never priced per request",
    "refunds": "refunds reduce the bill",
    "provisioned": "provisioned throughput is billed per model unit and hour, not per token",
    "other_units": "non-token units (images, video, knowledge bases, guardrails, agents…) are not priced",
    "other_charges": "fees and discounts outside per-request usage",
}
GAP_REASONS = (
    "pricing drift: the catalogue's rate for a model/region differs from the rate billed",
    "unpriced requests: models the catalogue does not know (counted per day)",
    "records not yet delivered: Firehose buffers up to its interval; recent days are not judged",
    "Cost Explorer lag: the bill of the last day(s) is Estimated and still moving",
    "usage outside the collected logs: other accounts/regions, or logging switched off",
)


@dataclass
class Attributed:
    """One day of the spend records, by entity type."""

    day: str
    cost_by_type: dict[str, Decimal] = field(default_factory=dict)
    requests_by_type: dict[str, int] = field(default_factory=dict)
    unpriced: int = 0

    def cost(self, entity_type: str) -> Decimal:
        return self.cost_by_type.get(entity_type, ZERO)


def attributed_days(result: QueryResult, invalid_type: str = "invalid") -> dict[str, Attributed]:
    """``reconcile_daily`` rows → days (invalid records are counted, never unpriced)."""
    days: dict[str, Attributed] = {}
    for row in result.dicts():
        day = str(row["dt"])
        entry = days.setdefault(day, Attributed(day))
        etype = str(row["entity_type"])
        cost = row["cost_usd"]
        entry.cost_by_type[etype] = Decimal(str(cost)) if cost is not None else ZERO
        entry.requests_by_type[etype] = int(str(row["requests"]))
        if etype != invalid_type:
            entry.unpriced += int(str(row["unpriced_requests"] or 0))
    return days


@dataclass
class DayLine:
    """One row of the reconciliation."""

    day: str
    billed: Decimal
    token_usage: Decimal
    explained: dict[str, Decimal]
    attributed: Decimal
    attributed_by_type: dict[str, Decimal]
    unattributed: Decimal
    invalid: int
    unpriced: int
    estimated: bool
    recent: bool

    @property
    def recorded(self) -> Decimal:
        return self.attributed + self.unattributed

    @property
    def gap(self) -> Decimal:
        return self.token_usage - self.recorded

    @property
    def gap_pct(self) -> Decimal | None:
        return self.gap / self.token_usage * HUNDRED if self.token_usage else None

    @property
    def unattributed_pct(self) -> Decimal | None:
        return self.unattributed / self.recorded * HUNDRED if self.recorded else None

    def judged(self) -> bool:
        """Whether this day counts for the threshold (complete and final)."""
        return not (self.recent or self.estimated)


@dataclass
class Reconciliation:
    """The month: day lines, totals, and which checks failed."""

    month: str
    threshold_pct: Decimal
    lines: list[DayLine]
    failures: list[str]
    unattributed_threshold_pct: Decimal | None = None

    def total(self, attr: str) -> Decimal:
        return sum((getattr(line, attr) for line in self.lines), ZERO)

    @property
    def gap_pct(self) -> Decimal | None:
        usage = self.total("token_usage")
        return (usage - self.total("recorded")) / usage * HUNDRED if usage else None

    @property
    def ok(self) -> bool:
        return not self.failures


def _days(start: str, end: str) -> Iterable[str]:
    day, stop = date.fromisoformat(start), date.fromisoformat(end)
    while day < stop:
        yield day.isoformat()
        day += timedelta(days=1)


def reconcile(
    month: str,
    start: str,
    end: str,
    billed: Mapping[str, BilledDay],
    attributed: Mapping[str, Attributed],
    *,
    threshold_pct: Decimal,
    today: date,
    recent_days: int = 2,
    unattributed_type: str = "unattributed",
    invalid_type: str = "invalid",
    unattributed_threshold_pct: Decimal | None = None,
) -> Reconciliation:
    """Line up bill and records day by day and judge the gaps."""
    lines: list[DayLine] = []
    horizon = (today - timedelta(days=recent_days)).isoformat()
    for day in _days(start, end):
        bill = billed.get(day, BilledDay(day))
        rec = attributed.get(day, Attributed(day))
        if day > today.isoformat():
            continue
        by_type = {
            t: c for t, c in sorted(rec.cost_by_type.items()) if t not in (unattributed_type, invalid_type)
        }
        lines.append(
            DayLine(
                day=day,
                billed=bill.total,
                token_usage=bill.by_category["tokens"],
                explained={k: v for k, v in bill.by_category.items() if k != "tokens" and v},
                attributed=sum(by_type.values(), ZERO),
                attributed_by_type=by_type,
                unattributed=rec.cost(unattributed_type),
                invalid=rec.requests_by_type.get(invalid_type, 0),
                unpriced=rec.unpriced,
                estimated=bill.estimated,
                recent=day >= horizon,
            )
        )
    failures: list[str] = []
    for line in lines:
        pct = line.gap_pct
        if not line.judged():
            continue
        if pct is None and line.recorded:
            failures.append(f"{line.day}: ${line.recorded:f} recorded but no token usage billed")
        elif pct is not None and abs(pct) > threshold_pct:
            failures.append(f"{line.day}: unexplained gap ${line.gap:f} ({pct:.1f}% > {threshold_pct}%)")
        share = line.unattributed_pct
        if (
            unattributed_threshold_pct is not None
            and share is not None
            and share > unattributed_threshold_pct
        ):
            failures.append(
                f"{line.day}: unattributed ${line.unattributed:f} is {share:.1f}% of the recorded spend"
                f" (> {unattributed_threshold_pct}%)"
            )
    result = Reconciliation(month, threshold_pct, lines, failures, unattributed_threshold_pct)
    judged = [line for line in lines if line.judged()]
    usage = sum((line.token_usage for line in judged), ZERO)
    if usage:
        month_pct = (usage - sum((line.recorded for line in judged), ZERO)) / usage * HUNDRED
        if abs(month_pct) > threshold_pct:
            failures.append(
                f"{month}: unexplained gap {month_pct:.1f}% over the judged days > {threshold_pct}%"
            )
    return result
