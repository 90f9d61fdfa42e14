"""Invocation → cost, from the versioned pricing catalogue (``data/pricing.json``).

Contract:

* Rates are USD per 1,000 tokens, kept as decimal strings in the catalogue and turned once, at load,
  into exact integers of pico-USD (1e-12 USD) per token; a cost is ``tokens × rate`` in integers, so
  no rounding ever happens (:func:`format_usd` prints it exactly).
* Model ids are resolved as Bedrock logs them
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html): a plain model
  id (scope ``in_region``), a geographic cross-region profile id ``us.``/``eu.``/``apac.``… (``geo``),
  ``global.`` (``global``), a foundation-model or system inference-profile ARN, and an *application*
  inference-profile ARN, which does not contain the model and is resolved only through the
  catalogue's ``application_profiles`` mapping (never guessed; unmapped → ``unresolved_profile``).
  Cross-region calls are priced at the rate of the source ``region``
  (https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html).
* The entry in force is the latest ``effective_from`` ≤ the event's day for the scope and region
  (a region-specific entry beats ``"*"``); a ``geo`` call without a geo entry uses the in-region entry.
* Unknown model → ``unknown_model`` with null costs, never a silent $0; models billed per image or
  second → ``not_token_priced``; cache tokens without a cache rate → ``partial`` (that cost null).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from transform import codec

PICO_PER_USD = 10**12
_PICO_PER_1K_RATE = 10**9  # USD per 1K tokens × 1e9 = pico-USD per token
RATE_KINDS = ("input", "output", "cache_read", "cache_write")
SCOPES = ("in_region", "geo", "global")
_VARIANT = re.compile(r"^(?P<base>.+?-v\d+(?::\d+)?)(?::\d+k|:mm)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CACHE_LIMIT = 50_000


class PricingConfigError(ValueError):
    """The pricing catalogue is invalid (raised at load, never per event)."""


@dataclass(frozen=True)
class Rates:
    """Integer pico-USD per token for each rate kind (``None`` = not offered)."""

    input: int | None
    output: int | None
    cache_read: int | None
    cache_write: int | None
    effective_from: str
    regions: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ModelEntry:
    """One catalogue model."""

    model: str
    name: str
    billing_unit: str
    prices: tuple[Rates, ...]


@dataclass(frozen=True)
class PriceQuote:
    """How a logged model id resolved and the rates in force (``rates`` is ``None`` when unpriced)."""

    model: str | None
    scope: str
    status: str
    rates: Rates | None
    price_version: str | None


class Costs(NamedTuple):
    """Costs of one invocation in pico-USD (``None`` where no rate or no tokens apply)."""

    input: int | None
    output: int | None
    cache_read: int | None
    cache_write: int | None
    total: int | None
    status: str


def format_usd(pico: int) -> bytes:
    """Exact decimal text of a pico-USD amount, as a JSON number (``b"0.0000014"``)."""
    if not pico:
        return b"0"
    digits = b"%013d" % pico
    return (digits[:-12] + b"." + digits[-12:]).rstrip(b"0").rstrip(b".")


def usd_decimal(pico: int | None) -> Decimal | None:
    """A pico-USD amount as an exact :class:`~decimal.Decimal` of USD."""
    return None if pico is None else Decimal(pico).scaleb(-12)


def _rate(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        scaled = Decimal(str(value)) * _PICO_PER_1K_RATE
    except InvalidOperation as exc:
        raise PricingConfigError(f"{where}: not a decimal: {value!r}") from exc
    if scaled < 0 or scaled != scaled.to_integral_value():
        raise PricingConfigError(f"{where}: {value} must be ≥ 0 with at most 9 decimals per 1K tokens")
    return int(scaled)


class Catalogue:
    """The loaded catalogue; :meth:`quote` and :meth:`cost` are cached and cheap per event."""

    def __init__(self, raw: dict[str, Any]) -> None:
        if raw.get("schema_version") != 1:
            raise PricingConfigError("schema_version must be 1")
        self.version: str = str(raw.get("catalogue_version") or "")
        if not self.version:
            raise PricingConfigError("catalogue_version is required")
        self.geo_prefixes: frozenset[str] = frozenset(raw.get("geo_prefixes") or ())
        self.application_profiles: dict[str, str] = dict(raw.get("application_profiles") or {})
        self.models: dict[str, ModelEntry] = {}
        for model, spec in (raw.get("models") or {}).items():
            prices: list[Rates] = []
            for i, entry in enumerate(spec.get("prices") or []):
                where = f"models[{model}].prices[{i}]"
                since = entry.get("effective_from", "")
                if not _DATE.match(since):
                    raise PricingConfigError(f"{where}: effective_from must be YYYY-MM-DD")
                scopes = tuple(entry.get("scopes") or ())
                if not scopes or set(scopes) - set(SCOPES):
                    raise PricingConfigError(f"{where}: scopes must be a subset of {SCOPES}")
                unknown = set(entry) - {*RATE_KINDS, "effective_from", "scopes", "regions", "source", "note"}
                if unknown:
                    raise PricingConfigError(f"{where}: unknown keys {sorted(unknown)}")
                rates = [_rate(entry.get(kind), f"{where}.{kind}") for kind in RATE_KINDS]
                prices.append(
                    Rates(
                        input=rates[0],
                        output=rates[1],
                        cache_read=rates[2],
                        cache_write=rates[3],
                        effective_from=since,
                        regions=tuple(entry.get("regions") or ("*",)),
                        scopes=scopes,
                    )
                )
            prices.sort(key=lambda r: r.effective_from, reverse=True)
            self.models[model] = ModelEntry(
                model,
                str(spec.get("name") or model),
                str(spec.get("billing_unit") or "tokens"),
                tuple(prices),
            )
        self._quotes: dict[tuple[str, str, str], PriceQuote] = {}

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        """Load and validate the catalogue file at ``path``."""
        try:
            raw = codec.json_loads(path.read_bytes())
        except (OSError, codec.DecodeError) as exc:
            raise PricingConfigError(f"cannot read pricing catalogue {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise PricingConfigError("the catalogue must be a JSON object")
        return cls(raw)

    def resolve_model(self, model_id: str) -> tuple[str | None, str, str | None]:
        """``(model, scope, problem)`` for a logged model id; ``problem`` names a status when unresolved."""
        scope = "in_region"
        ident = model_id
        if model_id.startswith("arn:"):
            parts = model_id.split(":", 5)
            resource = parts[5] if len(parts) == 6 else ""
            rtype, _, ident = resource.partition("/")
            if rtype == "application-inference-profile":
                target = self.application_profiles.get(model_id)
                if target is None:
                    return None, "application_profile", "unresolved_profile"
                model, _, problem = self.resolve_model(target)
                return model, "application_profile", problem
            if rtype == "provisioned-model":
                return None, "in_region", "provisioned_throughput"
            if rtype not in ("foundation-model", "inference-profile") or not ident:
                return None, "in_region", "unknown_model"
        head, dot, rest = ident.partition(".")
        if dot and head == "global":
            scope, ident = "global", rest
        elif dot and head in self.geo_prefixes:
            scope, ident = "geo", rest
        if ident in self.models:
            return ident, scope, None
        variant = _VARIANT.match(ident)
        if variant and variant.group("base") in self.models:
            return variant.group("base"), scope, None
        return None, scope, "unknown_model"

    def quote(self, model_id: str, region: str, day: str) -> PriceQuote:
        """Resolution and rates in force for ``model_id`` called from ``region`` on ``day`` (cached)."""
        key = (model_id, region, day)
        quote = self._quotes.get(key)
        if quote is None:
            if len(self._quotes) >= _CACHE_LIMIT:
                self._quotes.clear()
            quote = self._quotes[key] = self._quote(model_id, region, day)
        return quote

    def _quote(self, model_id: str, region: str, day: str) -> PriceQuote:
        model, scope, problem = self.resolve_model(model_id)
        if model is None:
            return PriceQuote(None, scope, problem or "unknown_model", None, None)
        entry = self.models[model]
        if entry.billing_unit != "tokens":
            return PriceQuote(model, scope, "not_token_priced", None, None)
        price_scope = "in_region" if scope == "application_profile" else scope
        candidates = [r for r in entry.prices if price_scope in r.scopes]
        if not candidates and price_scope == "geo":
            candidates = [r for r in entry.prices if "in_region" in r.scopes]
        in_force = [r for r in candidates if r.effective_from <= day]
        if not in_force:
            status = "no_rate_for_scope" if not candidates else "no_rate_in_force"
            return PriceQuote(model, scope, status, None, None)
        regional = [r for r in in_force if region in r.regions]
        fallback: list[Rates | None] = [r for r in in_force if "*" in r.regions]
        chosen = (regional or fallback or [None])[0]
        if chosen is None:
            return PriceQuote(model, scope, "no_rate_for_region", None, None)
        return PriceQuote(model, scope, "priced", chosen, f"{self.version}/{chosen.effective_from}")

    @staticmethod
    def cost(
        quote: PriceQuote,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None,
        cache_write: int | None,
    ) -> Costs:
        """Exact costs for the token counts under ``quote`` (pico-USD)."""
        rates = quote.rates
        if rates is None:
            return Costs(None, None, None, None, None, quote.status)
        partial = False
        parts: list[int | None] = []
        for tokens, rate in (
            (input_tokens, rates.input),
            (output_tokens, rates.output),
            (cache_read, rates.cache_read),
            (cache_write, rates.cache_write),
        ):
            if tokens is None:
                parts.append(None)
            elif rate is not None:
                parts.append(tokens * rate)
            elif tokens:
                parts.append(None)
                partial = True
            else:
                parts.append(0)
        a, b, c, d = parts
        total = (a or 0) + (b or 0) + (c or 0) + (d or 0)
        return Costs(a, b, c, d, total, "partial" if partial else "priced")
