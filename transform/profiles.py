"""Application inference profiles → model id, price scope and tags (the Bedrock control-plane adapter).

An *application* inference-profile ARN in the invocation log does not name the model
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-create.html). This adapter asks
Bedrock once per ARN and per execution environment:

* ``GetInferenceProfile`` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetInferenceProfile.html)
  → ``models[].modelArn``: foundation-model ARNs, one per region the profile can route to. The model id
  is the resource of those ARNs; if they name different models the profile is left unresolved (never
  guessed). Price scope: one region → ``in_region``; several regions of one geography (same first
  part of the region name: ``us``, ``eu``, ``ap``…) → ``geo``; regions of several geographies →
  ``global`` (a profile copied from a ``global.`` system profile spans geographies).
* ``ListTagsForResource`` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListTagsForResource.html)
  → the profile's tags, for routing rules with ``profile_tag`` (see :mod:`transform.routing`).

Every answer, including a failure (AccessDenied, ResourceNotFound, throttling after botocore's
retries), is cached for the life of the container: an event batch never waits on repeated calls, and
an unresolved profile is reported as ``unresolved_profile`` rather than priced by guess. Clients are
created lazily, one per region of the profile ARNs seen (the ARN's region is where the profile lives),
unless one is passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_MISSING = object()


@dataclass(frozen=True)
class ProfileArn:
    """The parts of an application inference-profile ARN."""

    arn: str
    partition: str
    region: str
    account_id: str
    profile_id: str


def parse_profile_arn(arn: str) -> ProfileArn | None:
    """Parse ``arn:<partition>:bedrock:<region>:<account>:application-inference-profile/<id>`` or ``None``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "bedrock":
        return None
    rtype, _, profile_id = parts[5].partition("/")
    account = parts[4]
    if rtype != "application-inference-profile" or not profile_id or not parts[3]:
        return None
    if not (len(account) == 12 and account.isdigit()):
        return None
    return ProfileArn(arn, parts[1], parts[3], account, profile_id)


def bedrock_client(region: str) -> Any:
    """A boto3 ``bedrock`` (control plane) client with bounded timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)
    return boto3.client("bedrock", region_name=region, config=config)


def _model_id(model_arn: str) -> tuple[str, str] | None:
    """``(region, model id)`` of a foundation-model ARN."""
    parts = model_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    rtype, _, ident = parts[5].partition("/")
    if rtype != "foundation-model" or not ident:
        return None
    return parts[3], ident


def price_scope(regions: set[str]) -> str:
    """``in_region`` / ``geo`` / ``global`` for the set of regions a profile routes to."""
    if len(regions) <= 1:
        return "in_region"
    geographies = {r.split("-", 1)[0] for r in regions}
    return "geo" if len(geographies) == 1 else "global"


class ProfileResolver:
    """Cached look-ups of application inference profiles (see module contract)."""

    def __init__(
        self,
        client: Any | None = None,
        client_factory: Callable[[str], Any] = bedrock_client,
    ) -> None:
        self._client = client
        self._client_factory = client_factory
        self._clients: dict[str, Any] = {}
        self._models: dict[str, tuple[str, str] | None] = {}
        self._tags: dict[str, dict[str, str] | None] = {}
        self.calls = 0  # AWS calls made (for tests and metrics)

    def client_for(self, region: str) -> Any:
        """The Bedrock client for ``region`` (created on first use)."""
        if self._client is not None:
            return self._client
        client = self._clients.get(region)
        if client is None:
            client = self._clients[region] = self._client_factory(region)
        return client

    def model_for(self, profile_arn: str) -> tuple[str, str] | None:
        """``(model id, price scope)`` of an application inference profile, or ``None`` (cached)."""
        found = self._models.get(profile_arn, _MISSING)
        if found is _MISSING:
            found = self._models[profile_arn] = self._describe(profile_arn)
        return found  # type: ignore[return-value]

    def tags_for(self, profile_arn: str) -> Mapping[str, str] | None:
        """The tags of an application inference profile, or ``None`` when they cannot be read (cached)."""
        found = self._tags.get(profile_arn, _MISSING)
        if found is _MISSING:
            found = self._tags[profile_arn] = self._list_tags(profile_arn)
        return found  # type: ignore[return-value]

    def _describe(self, profile_arn: str) -> tuple[str, str] | None:
        parsed = parse_profile_arn(profile_arn)
        if parsed is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:
            response = self.client_for(parsed.region).get_inference_profile(
                inferenceProfileIdentifier=profile_arn
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("GetInferenceProfile failed for %s: %s", profile_arn, exc)
            return None
        if response.get("type") not in (None, "APPLICATION"):
            return None
        models = {_model_id(str(m.get("modelArn", ""))) for m in response.get("models") or []}
        if not models or None in models:
            logger.warning("inference profile %s names no foundation model", profile_arn)
            return None
        model_ids = {m[1] for m in models if m is not None}
        if len(model_ids) != 1:
            logger.warning("inference profile %s routes to several models %s", profile_arn, sorted(model_ids))
            return None
        regions = {m[0] for m in models if m is not None}
        return model_ids.pop(), price_scope(regions)

    def _list_tags(self, profile_arn: str) -> dict[str, str] | None:
        parsed = parse_profile_arn(profile_arn)
        if parsed is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:
            response = self.client_for(parsed.region).list_tags_for_resource(resourceARN=profile_arn)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("ListTagsForResource failed for %s: %s", profile_arn, exc)
            return None
        return {str(t["key"]): str(t["value"]) for t in response.get("tags") or [] if "key" in t}
