"""The one place AWS clients are built, for the CLI, the local stack and the tests.

* Local (default for ``demo``): every service at the emulator's edge endpoint — localstack-client's
  convention (``LOCALSTACK_HOST``, default ``localhost:4566``) or an explicit ``endpoint_url`` —
  with the emulator's dummy credentials; Firehose at the project's local delivery engine.
* AWS (``endpoint_url=None, local=False``): plain boto3, which already honours ``AWS_ENDPOINT_URL``
  and ``AWS_ENDPOINT_URL_<SERVICE>`` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
So the same code runs against moto, LocalStack or real AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from localstack_client.config import get_service_endpoint

LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


def local_endpoint() -> str:
    """The edge endpoint by localstack-client's conventions (``LOCALSTACK_HOST``)."""
    return get_service_endpoint("s3") or "http://localhost:4566"


@dataclass
class Clients:
    """Lazily built, cached boto3 clients for one target."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    local: bool = True
    overrides: dict[str, str] = field(default_factory=dict)  # service -> endpoint (e.g. firehose)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __call__(self, service: str) -> Any:
        """The client for ``service``."""
        client = self._cache.get(service)
        if client is None:
            kwargs: dict[str, Any] = {"region_name": self.region, "config": _CONFIG}
            if self.local:
                kwargs.update(LOCAL_CREDENTIALS)
                kwargs["endpoint_url"] = self.overrides.get(service) or self.endpoint_url or local_endpoint()
            elif service in self.overrides:
                kwargs["endpoint_url"] = self.overrides[service]
            client = self._cache[service] = boto3.client(service, **kwargs)  # type: ignore[call-overload]
        return client

    def environment(self) -> dict[str, str]:
        """Variables that make boto3 in a Lambda function (run in-process) use the same endpoints."""
        if not self.local:
            return {}
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url or local_endpoint(),
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        for service, url in self.overrides.items():
            env[f"AWS_ENDPOINT_URL_{service.upper()}"] = url
        return env
