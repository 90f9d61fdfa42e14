"""Principal → entity, from ordered rules in configuration (``data/routing.json`` or a file you name).

Contract:

* The principal is the ``identity.arn`` of a Bedrock invocation log, written by AWS
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html). It is parsed
  strictly (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns):
  ``assumed-role/<role>/<session>``, ``user/<path…>/<name>``, ``federated-user/<name>``, ``root``,
  ``role/<path…>/<name>``; anything else is kind ``unknown`` and can only be unattributed.
* Rules are tried in order; a rule matches when its ``principal_kind`` equals the ARN's kind and each
  of its ``match`` patterns full-matches the named field. The first match names the entity through its
  ``entity_name`` template (ARN fields and named groups). Role names are chosen by the operator, the
  session name of an ``assumed-role`` by whoever assumes it: the shipped rules let the **role name**
  decide, and use a session name only under IAM Identity Center's ``AWSReservedSSO_…`` roles, where
  Identity Center sets it to the user name
  (https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html).
* A principal whose account is not the log's own account (nor an allowed account) is unattributed,
  entity id = its account id; an unmatched principal too (or ``unknown`` when there is no account).
* A rule with ``metadata_key`` is a trusted-gateway rule: it matches only the principals it names,
  and only then is that ``requestMetadata`` key read (it becomes ``{metadata}``). No other rule
  reads request metadata, so a caller cannot name a tenant through it.
* A rule with ``profile_tag`` is an application-inference-profile rule: it matches when the call
  went through an application inference profile (the log's ``modelId`` is its ARN) **in the log's
  own account (or an allowed account)** that carries that tag with a non-empty value; the value
  becomes ``{tag}``. Its ``principal_kind``/``match`` are optional and further restrict the callers.
  Tags come from ``bedrock:ListTagsForResource`` through the injected ``profile_tags`` look-up
  (:class:`transform.profiles.ProfileResolver`, cached per ARN). Spoofing: a profile and its tags are
  operator resources (creating or tagging one needs ``bedrock:CreateInferenceProfile`` /
  ``bedrock:TagResource`` in that account), not request parameters; whoever may tag profiles may
  name tenants, so grant those permissions like the right to create ``tenant-*`` roles. A profile in
  a foreign account never routes (a caller could otherwise pass another account's profile ARN it
  has been shared). Rules of both kinds share one ordered list: the first match wins.
* Adding an entity type is one rule: it carries the entity type and the log-group prefix.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transform import codec
from transform.names import safe_name

_NAME_CHARS = r"[\w+=,.@-]+"
_ROLE_RE = re.compile(r"assumed-role/(?P<role_name>[\w+=,.@-]{1,64})/(?P<session_name>[\w+=,.@-]{2,64})")
# An IAM path is "/" or "/" + printable characters (slashes included) + "/". One quantifier, not a
# repeated group of segments: "(?:[...]+/)*" with "/" inside [...] backtracks exponentially on a
# resource that does not match (e.g. "user/a/a/…/a!").
_USER_RE = re.compile(r"user(?P<user_path>/(?:[\x21-\x7e]+/)?)?/?(?P<user_name>[\w+=,.@-]{1,64})")
_IAM_ROLE_RE = re.compile(r"role(?P<role_path>/(?:[\x21-\x7e]+/)?)?/?(?P<role_name>[\w+=,.@-]{1,64})")
_FED_RE = re.compile(r"federated-user/(?P<federated_name>[\w+=,.@-]{2,32})")
_ACCOUNT_RE = re.compile(r"\d{12}")
_PARTITION_RE = re.compile(r"aws(?:-[a-z]+)*")
_ENTITY_TYPE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_LOG_GROUP_RE = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_TAG_KEY_RE = re.compile(r"[\w.:/=+@ -]{1,128}")
_FIELDS = frozenset(
    {
        "partition",
        "service",
        "account_id",
        "kind",
        "role_name",
        "session_name",
        "user_name",
        "user_path",
        "federated_name",
        "role_path",
    }
)
_CACHE_LIMIT = 20_000


class RoutingConfigError(ValueError):
    """The routing configuration is invalid (raised at load time, never per event)."""


@dataclass(frozen=True)
class Principal:
    """The parsed fields of a principal ARN; ``kind`` is ``unknown`` when it could not be parsed."""

    arn: str
    kind: str
    fields: Mapping[str, str]

    @property
    def account_id(self) -> str | None:
        """The ARN's account id, or ``None``."""
        return self.fields.get("account_id")


def parse_principal(arn: str) -> Principal:
    """Parse an IAM/STS principal ARN strictly (see module contract)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return Principal(arn, "unknown", {})
    _, partition, service, region, account, resource = parts
    if not _PARTITION_RE.fullmatch(partition) or not _ACCOUNT_RE.fullmatch(account) or region:
        return Principal(arn, "unknown", {"account_id": account} if _ACCOUNT_RE.fullmatch(account) else {})
    fields = {"partition": partition, "service": service, "account_id": account}
    matched: re.Match[str] | None = None
    kind = "unknown"
    if service == "sts":
        if (matched := _ROLE_RE.fullmatch(resource)) is not None:
            kind = "assumed-role"
        elif (matched := _FED_RE.fullmatch(resource)) is not None:
            kind = "federated-user"
    elif service == "iam":
        if resource == "root":
            kind = "root"
        elif (matched := _USER_RE.fullmatch(resource)) is not None:
            kind = "user"
        elif (matched := _IAM_ROLE_RE.fullmatch(resource)) is not None:
            kind = "role"
    if matched is not None:
        fields.update({k: v for k, v in matched.groupdict().items() if v is not None})
    fields["kind"] = kind
    return Principal(arn, kind, fields)


@dataclass(frozen=True)
class Rule:
    """One routing rule (see module contract)."""

    name: str
    entity_type: str
    log_group_prefix: str
    principal_kind: str
    match: tuple[tuple[str, re.Pattern[str]], ...]
    entity_name: str
    metadata_key: str | None = None
    profile_tag: str | None = None

    def apply(
        self,
        principal: Principal,
        metadata: Mapping[str, str] | None,
        profile_tags: Mapping[str, str] | None = None,
    ) -> str | None:
        """The entity name when this rule matches ``principal`` (and profile tags), else ``None``."""
        if self.principal_kind and principal.kind != self.principal_kind:
            return None
        values: dict[str, str] = dict(principal.fields)
        if self.profile_tag is not None:
            tag = (profile_tags or {}).get(self.profile_tag)
            if not isinstance(tag, str) or not tag.strip():
                return None
            values["tag"] = tag.strip()
        for field_name, pattern in self.match:
            found = pattern.fullmatch(principal.fields.get(field_name, ""))
            if found is None:
                return None
            values.update({k: v for k, v in found.groupdict().items() if v is not None})
        if self.metadata_key is not None:
            value = (metadata or {}).get(self.metadata_key)
            if not isinstance(value, str) or not value.strip():
                return None
            values["metadata"] = value.strip()
        name = self.entity_name.format_map(values)
        return name or None


@dataclass(frozen=True)
class Route:
    """Where one principal's spend is filed, and why."""

    entity_type: str
    entity_id: str
    entity_name: str
    log_group: str
    rule: str | None
    reason: str

    @property
    def partition(self) -> tuple[str, str]:
        """``(entity_type, entity_id)``."""
        return (self.entity_type, self.entity_id)


@dataclass
class Router:
    """Ordered rules plus the dead-letter and invalid destinations; routes are cached per principal."""

    rules: tuple[Rule, ...]
    unattributed_type: str
    unattributed_log_group: str
    invalid_type: str
    invalid_log_group: str
    allowed_accounts: frozenset[str] = frozenset()
    #: Tags of an application inference profile by ARN (``None`` = unreadable); needed by profile rules.
    profile_tags: Callable[[str], Mapping[str, str] | None] | None = None
    uses_profiles: bool = field(default=False, init=False)
    #: requestMetadata keys that trusted-gateway rules read (no other key is ever read).
    metadata_keys: tuple[str, ...] = field(default=(), init=False)
    _cache: dict[tuple[str, str, tuple[str | None, ...], str | None], Route] = field(
        default_factory=dict, init=False
    )
    _prefixes: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.metadata_keys = tuple(sorted({r.metadata_key for r in self.rules if r.metadata_key}))
        self.uses_profiles = any(r.profile_tag is not None for r in self.rules)
        for rule in self.rules:
            self._prefixes.setdefault(rule.entity_type, rule.log_group_prefix)

    @property
    def entity_types(self) -> tuple[str, ...]:
        """Every entity type this configuration can produce, in rule order, then dead letter, invalid."""
        seen = dict.fromkeys(r.entity_type for r in self.rules)
        seen[self.unattributed_type] = None
        seen[self.invalid_type] = None
        return tuple(seen)

    def log_group_for(self, entity_type: str, entity_id: str) -> str:
        """The mirror's log group for an entity; unknown types go to the dead letter."""
        if entity_type == self.invalid_type:
            return self.invalid_log_group
        prefix = self._prefixes.get(entity_type)
        if prefix is None:
            return self.unattributed_log_group
        return prefix + entity_id

    def mirrored_prefixes(self) -> tuple[str, ...]:
        """Log-group names or prefixes the mirror writes to (for the loop guard)."""
        return (*self._prefixes.values(), self.unattributed_log_group, self.invalid_log_group)

    def invalid_route(self, reason: str) -> Route:
        """The route of a record that is not a valid invocation log."""
        return Route(self.invalid_type, "unknown", "", self.invalid_log_group, None, reason)

    def route(
        self,
        principal_arn: str,
        own_account: str,
        request_metadata: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> Route:
        """Route one principal seen in ``own_account``'s logs, called with ``model_id`` (cached)."""
        meta_values: tuple[str | None, ...] = ()
        if self.metadata_keys and request_metadata:
            meta_values = tuple(request_metadata.get(k) for k in self.metadata_keys)
        profile = None
        if self.uses_profiles and model_id and ":application-inference-profile/" in model_id:
            profile = model_id
        key = (principal_arn, own_account, meta_values, profile)
        route = self._cache.get(key)
        if route is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            route = self._cache[key] = self._route(principal_arn, own_account, request_metadata, profile)
        return route

    def explain(
        self,
        principal_arn: str,
        own_account: str,
        request_metadata: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> list[tuple[str, str]]:
        """Rule-by-rule verdicts for one principal (for ``bedrock-spend route``; not cached)."""
        principal = parse_principal(principal_arn)
        if principal.kind == "unknown":
            return [("(parse)", "principal ARN not recognised: dead letter")]
        account = principal.account_id
        if account != own_account and account not in self.allowed_accounts:
            return [("(account)", f"account {account} is neither {own_account} nor allowed: dead letter")]
        verdicts: list[tuple[str, str]] = []
        profile = model_id if model_id and ":application-inference-profile/" in model_id else None
        tags = self._profile_tags(profile, own_account) if self.uses_profiles else None
        for rule in self.rules:
            if rule.principal_kind and rule.principal_kind != principal.kind:
                verdicts.append((rule.name, f"no: needs a {rule.principal_kind} principal"))
                continue
            failed = [f for f, p in rule.match if p.fullmatch(principal.fields.get(f, "")) is None]
            if failed:
                verdicts.append((rule.name, f"no: {', '.join(failed)} does not match"))
                continue
            name = rule.apply(principal, request_metadata, tags)
            if name is None:
                missing = (
                    f"the profile has no {rule.profile_tag!r} tag"
                    if rule.profile_tag is not None
                    else f"requestMetadata has no {rule.metadata_key!r}"
                )
                verdicts.append((rule.name, f"no: {missing}"))
                continue
            verdicts.append((rule.name, f"YES: entity name {name!r}"))
            return verdicts
        verdicts.append(("(no rule)", "dead letter"))
        return verdicts

    def _profile_tags(self, profile_arn: str | None, own_account: str) -> Mapping[str, str] | None:
        """Tags of the profile the call went through, if it is an own (or allowed) account's profile."""
        if profile_arn is None or self.profile_tags is None:
            return None
        parts = profile_arn.split(":", 5)
        account = parts[4] if len(parts) == 6 else ""
        if account != own_account and account not in self.allowed_accounts:
            return None
        return self.profile_tags(profile_arn)

    def _dead_letter(self, entity: str, reason: str) -> Route:
        return Route(
            self.unattributed_type, safe_name(entity), entity, self.unattributed_log_group, None, reason
        )

    def _route(
        self,
        principal_arn: str,
        own_account: str,
        metadata: Mapping[str, str] | None,
        profile_arn: str | None = None,
    ) -> Route:
        principal = parse_principal(principal_arn)
        account = principal.account_id
        if principal.kind == "unknown":
            return self._dead_letter(account or "unknown", "principal ARN not recognised")
        assert account is not None
        if account != own_account and account not in self.allowed_accounts:
            return self._dead_letter(
                account, f"principal account {account} is neither the log's account nor allowed"
            )
        tags: Mapping[str, str] | None = None
        tags_read = False
        for rule in self.rules:
            if rule.profile_tag is not None and not tags_read:
                tags, tags_read = self._profile_tags(profile_arn, own_account), True
            name = rule.apply(principal, metadata, tags)
            if name is not None:
                entity_id = safe_name(name)
                return Route(
                    rule.entity_type,
                    entity_id,
                    name,
                    rule.log_group_prefix + entity_id,
                    rule.name,
                    f"rule {rule.name!r} matched {principal.kind}"
                    + (f" via profile tag {rule.profile_tag!r}" if rule.profile_tag else ""),
                )
        return self._dead_letter(account, f"no rule matched {principal.kind} principal")


def _compile_rule(raw: Mapping[str, Any], index: int) -> Rule:
    where = f"rules[{index}]"
    profile_tag = raw.get("profile_tag")
    required: tuple[str, ...] = ("name", "entity_type", "log_group_prefix", "principal_kind", "entity_name")
    if profile_tag is not None:
        if not isinstance(profile_tag, str) or not _TAG_KEY_RE.fullmatch(profile_tag):
            raise RoutingConfigError(f"{where}: profile_tag must be a tag key (1-128 characters)")
        required = tuple(k for k in required if k != "principal_kind")
    missing = [k for k in required if not isinstance(raw.get(k), str) or not raw.get(k)]
    if missing:
        raise RoutingConfigError(f"{where}: missing or empty {missing}")
    unknown = set(raw) - {*required, "principal_kind", "match", "metadata_key", "profile_tag", "description"}
    if unknown:
        raise RoutingConfigError(f"{where}: unknown keys {sorted(unknown)}")
    if not _ENTITY_TYPE_RE.fullmatch(raw["entity_type"]):
        raise RoutingConfigError(f"{where}: entity_type must match {_ENTITY_TYPE_RE.pattern}")
    prefix = raw["log_group_prefix"]
    if not (prefix.startswith("/") and prefix.endswith("/") and _LOG_GROUP_RE.fullmatch(prefix)):
        raise RoutingConfigError(f"{where}: log_group_prefix must be '/…/' of [.-_/#A-Za-z0-9]")
    if prefix.startswith(("/aws/", "aws/")) or len(prefix) > 512 - 128:
        raise RoutingConfigError(f"{where}: log_group_prefix is reserved or too long")
    compiled: list[tuple[str, re.Pattern[str]]] = []
    groups: set[str] = set()
    for field_name, pattern in (raw.get("match") or {}).items():
        if field_name not in _FIELDS:
            raise RoutingConfigError(f"{where}: cannot match unknown field {field_name!r}")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise RoutingConfigError(f"{where}: bad pattern for {field_name}: {exc}") from exc
        groups |= set(regex.groupindex)
        compiled.append((field_name, regex))
    placeholders = {p for _, p, _, _ in string.Formatter().parse(raw["entity_name"]) if p}
    metadata_key = raw.get("metadata_key")
    if metadata_key is not None and profile_tag is not None:
        raise RoutingConfigError(f"{where}: a rule names the entity by metadata_key or profile_tag, not both")
    allowed = _FIELDS | groups | ({"metadata"} if metadata_key else set())
    if profile_tag is not None:
        allowed |= {"tag"}
    if not placeholders or placeholders - allowed:
        raise RoutingConfigError(
            f"{where}: entity_name placeholders {sorted(placeholders)} must come from {sorted(allowed)}"
        )
    if metadata_key is not None and (not isinstance(metadata_key, str) or not compiled):
        raise RoutingConfigError(f"{where}: a metadata_key rule must match specific principals")
    return Rule(
        name=raw["name"],
        entity_type=raw["entity_type"],
        log_group_prefix=prefix,
        principal_kind=str(raw.get("principal_kind") or ""),
        match=tuple(compiled),
        entity_name=raw["entity_name"],
        metadata_key=metadata_key,
        profile_tag=profile_tag,
    )


def router_from_config(
    config: Mapping[str, Any],
    allowed_accounts: frozenset[str] = frozenset(),
    profile_tags: Callable[[str], Mapping[str, str] | None] | None = None,
) -> Router:
    """Validate a routing configuration and build its :class:`Router`."""
    if config.get("schema_version") != 1:
        raise RoutingConfigError("schema_version must be 1")
    rules = tuple(_compile_rule(r, i) for i, r in enumerate(config.get("rules") or []))
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise RoutingConfigError("rule names must be unique")
    for rule in rules:
        first = next(r for r in rules if r.entity_type == rule.entity_type)
        if first.log_group_prefix != rule.log_group_prefix:
            raise RoutingConfigError(f"entity type {rule.entity_type!r} has two log-group prefixes")
    special: dict[str, tuple[str, str]] = {}
    for key in ("unattributed", "invalid"):
        spec = config.get(key) or {}
        etype, group = spec.get("entity_type"), spec.get("log_group")
        if not (isinstance(etype, str) and _ENTITY_TYPE_RE.fullmatch(etype)):
            raise RoutingConfigError(f"{key}.entity_type is required")
        if not (isinstance(group, str) and group.startswith("/") and _LOG_GROUP_RE.fullmatch(group)):
            raise RoutingConfigError(f"{key}.log_group must be a valid log-group name")
        if any(r.entity_type == etype for r in rules):
            raise RoutingConfigError(f"{key}.entity_type {etype!r} is also a rule's entity type")
        special[key] = (etype, group)
    accounts = frozenset(config.get("allowed_accounts") or ()) | allowed_accounts
    if any(not _ACCOUNT_RE.fullmatch(a) for a in accounts):
        raise RoutingConfigError("allowed_accounts must be 12-digit account ids")
    return Router(
        rules=rules,
        unattributed_type=special["unattributed"][0],
        unattributed_log_group=special["unattributed"][1],
        invalid_type=special["invalid"][0],
        invalid_log_group=special["invalid"][1],
        allowed_accounts=accounts,
        profile_tags=profile_tags,
    )


def load_router(
    path: Path,
    allowed_accounts: frozenset[str] = frozenset(),
    profile_tags: Callable[[str], Mapping[str, str] | None] | None = None,
) -> Router:
    """Load and validate the routing file at ``path``."""
    try:
        config = codec.json_loads(path.read_bytes())
    except (OSError, codec.DecodeError) as exc:
        raise RoutingConfigError(f"cannot read routing file {path}: {exc}") from exc
    return router_from_config(config, allowed_accounts, profile_tags)
