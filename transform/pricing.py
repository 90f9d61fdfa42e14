"""Invocation → cost, from the versioned pricing catalogue (``data/pricing.json``).

Contract:

* Rates are USD per 1,000 tokens, kept as decimal strings in the catalogue and turned once, at load,
  into exact integers of pico-USD (1e-12 USD) per token; a cost is ``tokens × rate`` in integers, so
  no rounding ever happens (:func:`format_usd` prints it exactly). An entry may hold ``input``,
  ``output``, ``cache_read``, ``cache_write`` (5-minute TTL), ``cache_write_1h``, ``batch_input``,
  ``batch_output`` and, for models billed per image or second, ``unit_price`` (USD per
  ``billing_unit``). The invocation log separates neither the cache TTL nor batch jobs, so events
  are priced with ``input``/``output``/``cache_read``/``cache_write``; the other kinds are kept for
  ``bedrock-spend pricing check`` and reports. The file's shape is ``data/pricing.schema.json``.
* Model ids are resolved as Bedrock logs them
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html): a plain model
  id (scope ``in_region``), a geographic cross-region profile id ``us.``/``eu.``/``apac.``… (``geo``),
  ``global.`` (``global``), a foundation-model or system inference-profile ARN, and an *application*
  inference-profile ARN, which does not contain the model: it is resolved by an injected
  :class:`ProfileModels` (``transform.profiles``: ``bedrock:GetInferenceProfile``, cached, only when
  enabled), then by the catalogue's ``application_profiles`` mapping; never guessed (unresolved →
  ``unresolved_profile``).
  Cross-region calls are priced at the rate of the source ``region``
  (https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html).
* The entry in force is the latest ``effective_from`` ≤ the event's day for the scope and region
  (a region-specific entry beats ``"*"``); a ``geo`` call without a geo entry uses the in-region entry.
* Unknown model → ``unknown_model`` with null costs, never a silent $0; models billed per image or
  second → ``not_token_priced`` (the log carries token counts, never an image count or a duration,
  so their ``unit_price`` cannot be applied); cache tokens without a cache rate → ``partial`` (that
  cost null).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from transform import codec

PICO_PER_USD = 10**12
_PICO_PER_1K_RATE = 10**9  # USD per 1K tokens × 1e9 = pico-USD per token
#: Token rate kinds an entry may hold (USD per 1,000 tokens).
RATE_KINDS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "batch_input",
    "batch_output",
)
SCOPES = ("in_region", "geo", "global")
SCHEMA_VERSIONS = (1, 2)
_ENTRY_KEYS = frozenset({*RATE_KINDS, "unit_price", "effective_from", "scopes", "regions", "source", "note"})
_MODEL_KEYS = frozenset({"name", "provider", "billing_unit", "kind", "price_list_names", "prices", "note"})
_VARIANT = re.compile(r"^(?P<base>.+?-v\d+(?::\d+)?)(?::\d+k|:mm)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAIN_DECIMAL = re.compile(r"^(0|[1-9]\d*)(\.\d+)?$")
_CACHE_LIMIT = 20_000


class PricingConfigError(ValueError):
    """The pricing catalogue is invalid (raised at load, never per event)."""


class ProfileModels(Protocol):
    """Resolves an application inference-profile ARN to ``(model id, price scope)`` (``None`` = unknown).

    Implemented by :class:`transform.profiles.ProfileResolver`; the catalogue stays free of AWS calls.
    """

    def model_for(self, profile_arn: str) -> tuple[str, str] | None:
        """The profile's model id and the scope its calls are priced at, or ``None``."""


@dataclass(frozen=True)
class Rates:
    """Integer pico-USD per token for each rate kind (``None`` = not offered), as of ``effective_from``."""

    input: int | None
    output: int | None
    cache_read: int | None
    cache_write: int | None
    effective_from: str
    regions: tuple[str, ...]
    scopes: tuple[str, ...]
    cache_write_1h: int | None = None
    batch_input: int | None = None
    batch_output: int | None = None
    #: pico-USD per billing unit (image, second, …) for models not billed by tokens.
    unit_price: int | None = None
    source: str | None = None

    def per_1k(self, kind: str) -> Decimal | None:
        """The rate of ``kind`` as USD per 1,000 tokens (``unit_price``: USD per unit)."""
        value: int | None = getattr(self, kind)
        if value is None:
            return None
        scale = -12 if kind == "unit_price" else -9
        return Decimal(value).scaleb(scale).normalize()


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


@dataclass(frozen=True)
class Resolution:
    """How a logged model id resolves: the catalogue model, the recorded scope, the price scope."""

    model: str | None
    scope: str
    price_scope: str
    problem: str | None
    via: str


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
    if 0 < pico < PICO_PER_USD:  # the common case: less than a dollar
        return b"0." + (b"%012d" % pico).rstrip(b"0")
    whole, frac = divmod(pico, PICO_PER_USD)
    return (b"%d.%012d" % (whole, frac)).rstrip(b"0").rstrip(b".")


def _part(tokens: int | None, rate: int | None) -> int | None:
    """``tokens × rate``; ``None`` without tokens, or when tokens were used and no rate exists."""
    if tokens is None:
        return None
    if rate is None:
        return None if tokens else 0
    return tokens * rate


def usd_decimal(pico: int | None) -> Decimal | None:
    """A pico-USD amount as an exact :class:`~decimal.Decimal` of USD."""
    return None if pico is None else Decimal(pico).scaleb(-12)


def _rate(value: Any, where: str, scale: int = _PICO_PER_1K_RATE) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PricingConfigError(f"{where}: rates are decimal strings, not {type(value).__name__}")
    if not _PLAIN_DECIMAL.match(value):
        raise PricingConfigError(f"{where}: not a plain non-negative decimal: {value!r}")
    try:
        scaled = Decimal(value) * scale
    except InvalidOperation as exc:
        raise PricingConfigError(f"{where}: not a decimal: {value!r}") from exc
    if not scaled.is_finite() or scaled < 0 or scaled != scaled.to_integral_value():
        raise PricingConfigError(f"{where}: {value} must be ≥ 0 and exact in pico-USD per token (or unit)")
    return int(scaled)


def _parse_entry(entry: Any, where: str, sources: Mapping[str, Any], billing_unit: str) -> Rates:
    if not isinstance(entry, dict):
        raise PricingConfigError(f"{where}: a price entry is an object")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise PricingConfigError(f"{where}: unknown keys {sorted(unknown)}")
    since = entry.get("effective_from", "")
    if not isinstance(since, str) or not _DATE.match(since):
        raise PricingConfigError(f"{where}: effective_from must be YYYY-MM-DD")
    scopes = tuple(entry.get("scopes") or ())
    if not scopes or set(scopes) - set(SCOPES):
        raise PricingConfigError(f"{where}: scopes must be a subset of {SCOPES}")
    source = entry.get("source")
    if not isinstance(source, str) or source not in sources:
        raise PricingConfigError(f"{where}: source {source!r} must name an entry of the catalogue's sources")
    rates = {kind: _rate(entry.get(kind), f"{where}.{kind}") for kind in RATE_KINDS}
    unit_price = _rate(entry.get("unit_price"), f"{where}.unit_price", PICO_PER_USD)
    if billing_unit == "tokens" and unit_price is not None:
        raise PricingConfigError(f"{where}: unit_price is for models not billed by tokens")
    if billing_unit != "tokens" and any(v is not None for v in rates.values()):
        raise PricingConfigError(f"{where}: a model billed per {billing_unit} has no token rates")
    return Rates(
        rates["input"],
        rates["output"],
        rates["cache_read"],
        rates["cache_write"],
        effective_from=since,
        regions=tuple(entry.get("regions") or ("*",)),
        scopes=scopes,
        cache_write_1h=rates["cache_write_1h"],
        batch_input=rates["batch_input"],
        batch_output=rates["batch_output"],
        unit_price=unit_price,
        source=source,
    )


class Catalogue:
    """The loaded catalogue; :meth:`quote` and :meth:`cost` are cached and cheap per event.

    ``profiles`` (optional) resolves application inference-profile ARNs before the configured
    ``application_profiles`` mapping is consulted; it is called at most once per (ARN, region, day)
    here and caches per ARN itself.
    """

    def __init__(self, raw: dict[str, Any], profiles: ProfileModels | None = None) -> None:
        if raw.get("schema_version") not in SCHEMA_VERSIONS:
            raise PricingConfigError(f"schema_version must be one of {SCHEMA_VERSIONS}")
        self.version: str = str(raw.get("catalogue_version") or "")
        if not self.version:
            raise PricingConfigError("catalogue_version is required")
        self.profiles = profiles
        self.sources: dict[str, str] = {str(k): str(v) for k, v in (raw.get("sources") or {}).items()}
        self.geo_prefixes: frozenset[str] = frozenset(raw.get("geo_prefixes") or ())
        self.application_profiles: dict[str, str] = dict(raw.get("application_profiles") or {})
        self.not_covered: dict[str, str] = dict(raw.get("not_covered") or {})
        self.models: dict[str, ModelEntry] = {}
        self.price_list_names: dict[str, tuple[str, ...]] = {}
        for model, spec in (raw.get("models") or {}).items():
            if not isinstance(spec, dict):
                raise PricingConfigError(f"models[{model}]: a model is an object")
            unknown = set(spec) - _MODEL_KEYS
            if unknown:
                raise PricingConfigError(f"models[{model}]: unknown keys {sorted(unknown)}")
            unit = str(spec.get("billing_unit") or "tokens")
            prices = [
                _parse_entry(entry, f"models[{model}].prices[{i}]", self.sources, unit)
                for i, entry in enumerate(spec.get("prices") or [])
            ]
            prices.sort(key=lambda r: r.effective_from, reverse=True)
            name = str(spec.get("name") or model)
            self.models[model] = ModelEntry(model, name, unit, tuple(prices))
            self.price_list_names[model] = tuple(spec.get("price_list_names") or (name,))
        self._quotes: dict[tuple[str, str, str], PriceQuote] = {}

    @classmethod
    def load(cls, path: Path, profiles: ProfileModels | None = None) -> Catalogue:
        """Load and validate the catalogue file at ``path``."""
        try:
            raw = codec.json_loads(path.read_bytes())
        except (OSError, codec.DecodeError) as exc:
            raise PricingConfigError(f"cannot read pricing catalogue {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise PricingConfigError("the catalogue must be a JSON object")
        return cls(raw, profiles)

    def resolve_model(self, model_id: str) -> tuple[str | None, str, str | None]:
        """``(model, scope, problem)`` for a logged model id; ``problem`` names a status when unresolved."""
        res = self.resolve(model_id)
        return res.model, res.scope, res.problem

    def resolve(self, model_id: str) -> Resolution:
        """How ``model_id`` resolves (see module contract); ``via`` says which rule decided."""
        ident = model_id
        if model_id.startswith("arn:"):
            parts = model_id.split(":", 5)
            resource = parts[5] if len(parts) == 6 else ""
            rtype, _, ident = resource.partition("/")
            if rtype == "application-inference-profile":
                return self._resolve_application_profile(model_id)
            if rtype == "provisioned-model":
                return Resolution(None, "in_region", "in_region", "provisioned_throughput", "arn")
            if rtype not in ("foundation-model", "inference-profile") or not ident:
                return Resolution(None, "in_region", "in_region", "unknown_model", "arn")
        scope = "in_region"
        head, dot, rest = ident.partition(".")
        if dot and head == "global":
            scope, ident = "global", rest
        elif dot and head in self.geo_prefixes:
            scope, ident = "geo", rest
        via = "arn" if model_id.startswith("arn:") else "model id"
        if ident in self.models:
            return Resolution(ident, scope, scope, None, via)
        variant = _VARIANT.match(ident)
        if variant and variant.group("base") in self.models:
            return Resolution(variant.group("base"), scope, scope, None, f"{via} (context variant)")
        return Resolution(None, scope, scope, "unknown_model", via)

    def _resolve_application_profile(self, arn: str) -> Resolution:
        scope = "application_profile"
        if self.profiles is not None:
            found = self.profiles.model_for(arn)
            if found is not None:
                model_id, price_scope = found
                inner = self.resolve(model_id)
                if price_scope not in SCOPES:
                    price_scope = inner.price_scope
                return Resolution(inner.model, scope, price_scope, inner.problem, "GetInferenceProfile")
        target = self.application_profiles.get(arn)
        if target is None:
            return Resolution(None, scope, "in_region", "unresolved_profile", "unresolved")
        inner = self.resolve(target)
        return Resolution(inner.model, scope, inner.price_scope, inner.problem, "application_profiles")

    def quote(self, model_id: str, region: str, day: str) -> PriceQuote:
        """Resolution and rates in force for ``model_id`` called from ``region`` on ``day`` (cached)."""
        key = (model_id, region, day)
        quote = self._quotes.get(key)
        if quote is None:
            if len(self._quotes) >= _CACHE_LIMIT:
                self._quotes.clear()
            quote = self._quotes[key] = self._quote(model_id, region, day)
        return quote

    def rates_in_force(self, model: str, price_scope: str, region: str, day: str) -> tuple[Rates | None, str]:
        """The entry of ``model`` in force for a scope, region and day, and a status saying why not."""
        entry = self.models[model]
        candidates = [r for r in entry.prices if price_scope in r.scopes]
        if not candidates and price_scope == "geo":
            candidates = [r for r in entry.prices if "in_region" in r.scopes]
        in_force = [r for r in candidates if r.effective_from <= day]
        if not in_force:
            return None, "no_rate_for_scope" if not candidates else "no_rate_in_force"
        chosen = next((r for r in in_force if region in r.regions), None) or next(
            (r for r in in_force if "*" in r.regions), None
        )
        if chosen is None:
            return None, "no_rate_for_region"
        return chosen, "priced"

    def _quote(self, model_id: str, region: str, day: str) -> PriceQuote:
        res = self.resolve(model_id)
        if res.model is None:
            return PriceQuote(None, res.scope, res.problem or "unknown_model", None, None)
        entry = self.models[res.model]
        if entry.billing_unit != "tokens":
            return PriceQuote(res.model, res.scope, "not_token_priced", None, None)
        chosen, status = self.rates_in_force(res.model, res.price_scope, region, day)
        if chosen is None:
            return PriceQuote(res.model, res.scope, status, None, None)
        return PriceQuote(res.model, res.scope, "priced", chosen, f"{self.version}/{chosen.effective_from}")

    def explain(self, model_id: str, region: str, day: str) -> dict[str, Any]:
        """A human-readable account of how ``model_id`` resolves and which rates apply (``pricing show``)."""
        res = self.resolve(model_id)
        out: dict[str, Any] = {
            "model_id": model_id,
            "region": region,
            "date": day,
            "resolved_via": res.via,
            "model": res.model,
            "inference_scope": res.scope,
            "price_scope": res.price_scope,
        }
        if res.model is None:
            out["status"] = res.problem or "unknown_model"
            reason = self.not_covered.get(model_id.split("/")[-1])
            if reason:
                out["not_covered"] = reason
            return out
        entry = self.models[res.model]
        out["name"] = entry.name
        out["billing_unit"] = entry.billing_unit
        chosen, status = self.rates_in_force(res.model, res.price_scope, region, day)
        out["status"] = status if entry.billing_unit == "tokens" or chosen is None else "not_token_priced"
        if chosen is not None:
            out["effective_from"] = chosen.effective_from
            out["entry_regions"] = list(chosen.regions)
            out["entry_scopes"] = list(chosen.scopes)
            out["price_version"] = f"{self.version}/{chosen.effective_from}"
            out["source"] = self.sources.get(chosen.source or "", chosen.source)
            unit = "USD per 1K tokens" if entry.billing_unit == "tokens" else f"USD per {entry.billing_unit}"
            out["rates"] = {
                kind: str(value)
                for kind in (*RATE_KINDS, "unit_price")
                if (value := chosen.per_1k(kind)) is not None
            }
            out["rate_unit"] = unit
        later = [r.effective_from for r in entry.prices if r.effective_from > day]
        if later:
            out["later_changes"] = sorted(set(later))
        return out

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
        a = _part(input_tokens, rates.input)
        b = _part(output_tokens, rates.output)
        c = _part(cache_read, rates.cache_read)
        d = _part(cache_write, rates.cache_write)
        total = (a or 0) + (b or 0) + (c or 0) + (d or 0)
        partial = (
            (a is None and bool(input_tokens))
            or (b is None and bool(output_tokens))
            or (c is None and bool(cache_read))
            or (d is None and bool(cache_write))
        )
        return Costs(a, b, c, d, total, "partial" if partial else "priced")
