"""AWS Price List items for Amazon Bedrock → catalogue rates, and the drift between the two.

Price List facts (``pricing:GetProducts``, endpoint in us-east-1,
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html): each
``PriceList`` element is a JSON *string* ``{"product": {"attributes": {...}}, "terms": {"OnDemand":
{<sku.term>: {"priceDimensions": {<id>: {"unit", "description", "pricePerUnit": {"USD"}}}}}}}``. Two
service codes carry Bedrock model prices:

* ``AmazonBedrock`` (Amazon, Meta, Mistral, DeepSeek… models): attributes ``model`` (display name such
  as ``Nova Micro``; Titan rows may use ``titanModel``), ``inferenceType`` (``Input tokens``…),
  ``feature`` (``On-demand Inference``, ``Batch Inference``, ``Model Customization``…), ``usagetype``
  such as ``USE1-NovaMicro-input-tokens``, ``…-output-tokens-cross-region-global``,
  ``…-input-tokens-batch``, ``…-cache-read-input-tokens``; units ``1K tokens`` (some ``1M tokens``).
* ``AmazonBedrockFoundationModels`` (Marketplace-listed: Anthropic, Cohere, AI21…): attribute
  ``servicename`` (``Claude Haiku 4.5 (Amazon Bedrock Edition)``), ``usagetype`` such as
  ``USE1-MP:USE1_InputTokenCount-Units``, ``…_OutputTokenCount_Global-Units``,
  ``…_CacheReadInputTokenCount-Units``, ``…_CacheWriteInputTokenCount-Units``, newer
  ``USE1_input_tokens_standard-Units`` / ``…_global_standard-Units``; unit ``Units`` priced per
  **million** tokens (the description says ``Million …``).

Mapping rules (:func:`classify`), applied to the lower-cased usage type, ``feature`` and
``inferenceType``: rows of other tiers or products are *ignored* with a reason (``flex``,
``priority``, ``reserved``/``provisioned``, ``customization``, ``latency`` optimised, long context,
``search_units``, images/video); ``global`` → scope ``global``, ``crossgeo``/``cross-region-geo`` →
``geo``, else ``in_region`` (the catalogue's in-region entry also prices geo calls); ``batch`` in the
usage type or feature → ``batch_input``/``batch_output``; ``cache…read`` → ``cache_read``;
``cache…write`` → ``cache_write`` (``1h`` → ``cache_write_1h``); ``input``/``output`` → ``input``/
``output``. Prices are normalised to USD per 1,000 tokens from the unit (``1K tokens``, ``1M
tokens``, ``Tokens``, or ``Units`` with a ``million``/``1K`` description); anything else is reported as
an odd row, never guessed. A row maps to catalogue models whose ``price_list_names`` (default: the
model's ``name``) equal its name, compared case-insensitively without `` (Amazon Bedrock Edition)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from transform.pricing import RATE_KINDS, Catalogue

SERVICE_CODES = ("AmazonBedrock", "AmazonBedrockFoundationModels")
PRICING_REGION = "us-east-1"
_IGNORED = (
    ("flex", "flex tier"),
    ("priority", "priority tier"),
    ("reserved", "reserved tier"),
    ("provisioned", "provisioned throughput"),
    ("customization", "model customization"),
    ("custom-model", "custom model"),
    ("latency", "latency-optimized inference"),
    ("longcontext", "long-context rate"),
    ("long-context", "long-context rate"),
    ("long_context", "long-context rate"),
    ("search_units", "rerank search units"),
    ("image", "per-image price (the log has no image count)"),
    ("t2v", "per-video price"),
    ("i2v", "per-video price"),
)
_SUFFIX = re.compile(r"\s*\(amazon bedrock edition\)\s*$")


@dataclass(frozen=True)
class ListedRate:
    """One Price List row mapped to a catalogue rate kind (USD per 1,000 tokens)."""

    name: str
    region: str
    scope: str
    kind: str
    per_1k: Decimal
    usagetype: str
    service: str


@dataclass(frozen=True)
class OddRow:
    """A row that was not mapped, and why."""

    name: str
    usagetype: str
    reason: str


@dataclass(frozen=True)
class Drift:
    """One compared rate."""

    model: str
    region: str
    scope: str
    kind: str
    catalogue: Decimal | None
    aws: Decimal
    usagetype: str

    @property
    def pct(self) -> Decimal | None:
        """Difference of AWS over the catalogue in percent (``None`` when the catalogue has no rate)."""
        if self.catalogue is None:
            return None
        if self.catalogue == 0:
            return Decimal(0) if self.aws == 0 else Decimal(100)
        return ((self.aws - self.catalogue) / self.catalogue * 100).quantize(Decimal("0.01"))


def normalise_name(name: str) -> str:
    """Price List names compared case-insensitively without the Marketplace edition suffix."""
    return " ".join(_SUFFIX.sub("", name.strip().lower()).split())


def classify(attrs: dict[str, Any]) -> tuple[str, str] | str:
    """``(kind, scope)`` of a row's attributes, or the reason it is ignored (see module contract)."""
    usage = str(attrs.get("usagetype") or "").lower()
    feature = str(attrs.get("feature") or "").lower()
    inference = str(attrs.get("inferenceType") or "").lower()
    tier = str(attrs.get("service_tier") or "").lower()
    text = f"{usage} {feature} {inference}"
    if tier and tier != "standard":
        return f"{tier} tier"
    for needle, reason in _IGNORED:
        if needle in usage or needle in feature:
            return reason
    scope = "in_region"
    if "global" in usage:
        scope = "global"
    elif "crossgeo" in usage or "cross-region-geo" in usage:
        scope = "geo"
    batch = "batch" in usage or "batch" in feature
    if "cache" in text and "read" in text:
        kind = "cache_read"
    elif "cache" in text and "write" in text:
        kind = "cache_write_1h" if re.search(r"1h|1-hour|one.hour", text) else "cache_write"
    elif re.search(r"input[_\s-]?token", text):
        kind = "batch_input" if batch else "input"
    elif re.search(r"output[_\s-]?token|response[_\s-]?token", text):
        kind = "batch_output" if batch else "output"
    else:
        return "not a token rate"
    if batch and kind.startswith("cache"):
        return "batch cache rate"
    return kind, scope


def per_1k(unit: str, description: str, usd: str) -> Decimal | None:
    """The price as USD per 1,000 tokens, or ``None`` for an unknown unit."""
    try:
        price = Decimal(usd)
    except InvalidOperation:
        return None
    if not price.is_finite() or price < 0:
        return None
    unit_l, desc = unit.strip().lower(), description.lower()
    if unit_l in ("1k tokens", "1k token"):
        return price
    if unit_l in ("1m tokens", "1m token"):
        return price / 1000
    if unit_l in ("tokens", "token"):
        return price * 1000
    if unit_l == "units":
        if "million" in desc or "1m" in desc:
            return price / 1000
        if "1k" in desc or "thousand" in desc:
            return price
    return None


def parse_items(items: Iterable[str | dict[str, Any]], service: str) -> Iterator[ListedRate | OddRow]:
    """Rows of GetProducts ``PriceList`` (JSON strings) as mapped rates or odd rows."""
    for item in items:
        data = json.loads(item) if isinstance(item, str) else item
        attrs: dict[str, Any] = (data.get("product") or {}).get("attributes") or {}
        name = str(attrs.get("model") or attrs.get("titanModel") or attrs.get("servicename") or "")
        usage = str(attrs.get("usagetype") or "")
        if not name:
            yield OddRow("", usage, "row names no model")
            continue
        found = classify(attrs)
        if isinstance(found, str):
            yield OddRow(name, usage, found)
            continue
        kind, scope = found
        dims = [
            d
            for term in ((data.get("terms") or {}).get("OnDemand") or {}).values()
            for d in (term.get("priceDimensions") or {}).values()
        ]
        if len(dims) != 1:
            yield OddRow(name, usage, f"{len(dims)} on-demand price dimensions")
            continue
        dim = dims[0]
        rate = per_1k(
            str(dim.get("unit", "")),
            str(dim.get("description", "")),
            (dim.get("pricePerUnit") or {}).get("USD", ""),
        )
        if rate is None:
            yield OddRow(name, usage, f"unknown unit {dim.get('unit')!r}")
            continue
        yield ListedRate(
            name, str(attrs.get("regionCode") or ""), scope, kind, rate.normalize(), usage, service
        )


def fetch(client: Any, region: str) -> list[ListedRate | OddRow]:
    """All Bedrock price rows of ``region`` from a ``pricing`` client (paginated GetProducts)."""
    rows: list[ListedRate | OddRow] = []
    paginator = client.get_paginator("get_products")
    for service in SERVICE_CODES:
        pages = paginator.paginate(
            ServiceCode=service,
            FormatVersion="aws_v1",
            Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        )
        for page in pages:
            rows.extend(parse_items(page.get("PriceList") or [], service))
    return rows


def name_index(catalogue: Catalogue) -> dict[str, list[str]]:
    """Normalised Price List name → catalogue model ids."""
    index: dict[str, list[str]] = {}
    for model, names in catalogue.price_list_names.items():
        for name in {normalise_name(n) for n in names}:
            index.setdefault(name, []).append(model)
    return index


def compare(
    catalogue: Catalogue, rows: Iterable[ListedRate | OddRow], region: str, day: str
) -> tuple[list[Drift], list[OddRow]]:
    """Compare mapped rows with the rates in force on ``day``; unmapped names become odd rows."""
    index = name_index(catalogue)
    drifts: list[Drift] = []
    odd: list[OddRow] = []
    for row in rows:
        if isinstance(row, OddRow):
            odd.append(row)
            continue
        if row.region and row.region != region:
            odd.append(OddRow(row.name, row.usagetype, f"row of region {row.region}"))
            continue
        models = index.get(normalise_name(row.name))
        if not models:
            odd.append(OddRow(row.name, row.usagetype, "no catalogue model has this Price List name"))
            continue
        for model in models:
            if catalogue.models[model].billing_unit != "tokens":
                continue
            rates, _ = catalogue.rates_in_force(model, row.scope, region, day)
            current = rates.per_1k(row.kind) if rates is not None and row.scope in rates.scopes else None
            drifts.append(Drift(model, region, row.scope, row.kind, current, row.per_1k, row.usagetype))
    drifts.sort(key=lambda d: (d.model, d.scope, d.kind))
    return drifts, odd


def updated_catalogue(
    raw: dict[str, Any], catalogue: Catalogue, drifts: Iterable[Drift], threshold: Decimal, day: str
) -> tuple[dict[str, Any], int]:
    """A new catalogue version with one dated entry per (model, scope) whose AWS rates differ.

    Each new entry starts from the rates in force (so kinds AWS did not list are kept) and takes the
    AWS values; it applies to the checked region only. Returns the new catalogue and the entries added.
    """
    source = f"aws-price-list-{day}"
    groups: dict[tuple[str, str, str], list[Drift]] = {}
    for drift in drifts:
        pct = drift.pct
        if pct is None or abs(pct) > threshold:
            groups.setdefault((drift.model, drift.scope, drift.region), []).append(drift)
    added = 0
    for (model, scope, region), items in sorted(groups.items()):
        current, _ = catalogue.rates_in_force(model, scope, region, day)
        entry: dict[str, Any] = {
            "effective_from": day,
            "scopes": [scope, "geo"] if scope == "in_region" else [scope],
            "regions": [region],
            "source": source,
        }
        if current is not None:
            for kind in RATE_KINDS:
                value = current.per_1k(kind)
                if value is not None:
                    entry[kind] = format(value, "f")
        for drift in items:
            entry[drift.kind] = format(drift.aws, "f")
        raw["models"][model]["prices"].append(entry)
        added += 1
    if added:
        raw["sources"][source] = (
            f"AWS Price List API GetProducts ({', '.join(SERVICE_CODES)}) fetched {day}, "
            "mapped by bedrock-spend pricing check (README, Pricing)"
        )
        raw["catalogue_version"] = day
    return raw, added
