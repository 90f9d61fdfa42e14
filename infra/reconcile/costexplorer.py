"""Daily Amazon Bedrock cost from Cost Explorer (boto3 ``ce`` client passed in).

* Which services: Bedrock's own models bill under the service ``Amazon Bedrock``; third-party
  models (Anthropic, Meta, …) are sold through AWS Marketplace and appear as their own service
  names such as ``Claude 3.7 Sonnet (Amazon Bedrock Edition)``, with usage types like
  ``USE1-MP:USE1_InputTokenCount-Units``. A filter on ``Amazon Bedrock`` alone misses them, so the
  service names are discovered with ``GetDimensionValues`` (``SERVICE``, search string ``Bedrock``)
  for the period (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetDimensionValues.html).
* What: ``GetCostAndUsage`` with ``DAILY`` granularity, metric ``UnblendedCost``, filtered on those
  services, grouped by ``RECORD_TYPE`` (Usage, Credit, Tax, Refund, …) and ``USAGE_TYPE``; every
  page is read through ``NextPageToken``
  (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html).
  A result with ``Estimated: true`` is not final yet. Money stays :class:`~decimal.Decimal`.
* Classification of each line: token usage (what the pipeline prices), provisioned throughput,
  other (non-token) usage units, credits, tax, refunds, other charges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

BEDROCK_SERVICE = "Amazon Bedrock"
#: Record types that are usage (the rest are credits, taxes, refunds, fees, discounts).
USAGE_RECORD_TYPES = frozenset({"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"})
CATEGORIES = ("tokens", "provisioned", "other_units", "credits", "tax", "refunds", "other_charges")
_PROVISIONED = re.compile(r"provisioned|model[-_ ]?units?\b|modelunit|\bPT\b|ProvisionedThroughput", re.I)
_TOKENS = re.compile(r"token", re.I)


def classify(record_type: str, usage_type: str) -> str:
    """The category of one Cost Explorer line (see :data:`CATEGORIES`)."""
    if record_type in USAGE_RECORD_TYPES:
        if _PROVISIONED.search(usage_type):
            return "provisioned"
        return "tokens" if _TOKENS.search(usage_type) else "other_units"
    return {"Credit": "credits", "Tax": "tax", "Refund": "refunds"}.get(record_type, "other_charges")


@dataclass
class BilledDay:
    """One day of the bill, by category (USD, exact)."""

    day: str
    by_category: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, Decimal(0)))
    by_usage_type: dict[str, Decimal] = field(default_factory=dict)
    estimated: bool = False

    @property
    def total(self) -> Decimal:
        """Everything billed that day (credits and refunds are negative)."""
        return sum(self.by_category.values(), Decimal(0))

    def add(self, record_type: str, usage_type: str, amount: Decimal) -> None:
        """Add one line."""
        self.by_category[classify(record_type, usage_type)] += amount
        key = f"{record_type}:{usage_type}"
        self.by_usage_type[key] = self.by_usage_type.get(key, Decimal(0)) + amount


def _pages(call: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        response: dict[str, Any] = call(**kwargs, **({"NextPageToken": token} if token else {}))
        yield response
        token = response.get("NextPageToken")
        if not token:
            return


def bedrock_services(ce: Any, start: str, end: str) -> list[str]:
    """Service names of Bedrock charges in ``[start, end)`` (``Amazon Bedrock`` always included)."""
    names = {BEDROCK_SERVICE}
    for page in _pages(
        ce.get_dimension_values,
        TimePeriod={"Start": start, "End": end},
        Dimension="SERVICE",
        SearchString="Bedrock",
        Context="COST_AND_USAGE",
    ):
        names.update(v["Value"] for v in page.get("DimensionValues", []) if "Bedrock" in v.get("Value", ""))
    return sorted(names)


def daily_costs(ce: Any, start: str, end: str, services: Iterable[str]) -> dict[str, BilledDay]:
    """Every day of ``[start, end)`` with its Bedrock charges by category."""
    days: dict[str, BilledDay] = {}
    for page in _pages(
        ce.get_cost_and_usage,
        TimePeriod={"Start": start, "End": end},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        Filter={"Dimensions": {"Key": "SERVICE", "Values": sorted(services)}},
        GroupBy=[{"Type": "DIMENSION", "Key": "RECORD_TYPE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    ):
        for result in page.get("ResultsByTime", []):
            day_key = result["TimePeriod"]["Start"][:10]
            day = days.setdefault(day_key, BilledDay(day_key))
            day.estimated = day.estimated or bool(result.get("Estimated"))
            for group in result.get("Groups", []):
                keys = [*group.get("Keys", []), "", ""]
                amount = Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
                day.add(keys[0], keys[1], amount)
            total = result.get("Total", {}).get("UnblendedCost")
            if total and not result.get("Groups") and Decimal(total["Amount"]):
                day.add("Usage", "unknown", Decimal(total["Amount"]))
    return days
