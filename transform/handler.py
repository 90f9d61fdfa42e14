"""Firehose data-transformation Lambda entry point: decorators + one call.

Event and response contract: https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html
(see :mod:`transform.process`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from transform.runtime import logger, metrics, transform_app

tracer = Tracer(service="bedrock-spend")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Transform one Firehose batch of CloudWatch Logs records into partitioned spend records."""
    return transform_app().handle(event)
