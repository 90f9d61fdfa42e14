"""Provision the local stack (moto) from infra/template.yaml — the template is the only source.

``resolve_resources`` reads the template and computes every concrete name/ARN (no AWS call);
``provision`` does the same and then creates, through the boto3 clients it is given:

* the spend bucket, its lifecycle rules and its ObjectCreated notification to the mirror queue
  (S3 notification configuration:
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html);
* the Bedrock invocation log group + stream and every other log group/stream the template creates;
* the Firehose delivery stream with its ExtendedS3DestinationConfiguration (processing and dynamic
  partitioning included; https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html).
  moto stores it but never runs the Lambda nor evaluates prefixes: the project's delivery engine
  reads this configuration (``LocalResources.delivery_stream_config``) and does that;
* the SQS queues (dead-letter queue first) with their redrive policy;
* the DynamoDB tables (idempotency) with TTL.

Not created: the subscription filter (moto's would write raw envelopes to S3) — its name and
pattern are returned for the project's own subscription emulator; IAM roles, functions, Glue,
Athena, alarms and dashboards (nothing local consumes them).

Running it twice is fine: existing resources are kept and their settings re-applied.
Physical names follow ``infra.local.cfn`` (explicit template names, else ``<stack>-<LogicalId>``).
Note: S3 (and moto) sends an ``s3:TestEvent`` message to the queue each time the notification
configuration is written; consumers must ignore it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.local.cfn import ResolvedTemplate, ResolveError, load_template

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
DEFAULT_STACK_NAME = "bedrock-spend-local"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: ARNs must match the emulator's.
DEFAULT_REGION = "us-east-1"

_INT_FIELDS = {"SizeInMBs", "IntervalInSeconds", "DurationInSeconds"}


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the template declares it (Globals merged), with concrete values."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    architectures: tuple[str, ...]
    timeout: int
    environment: dict[str, str]


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class LocalResources:
    """Every concrete name/ARN of the local stack, all derived from the template."""

    stack_name: str
    account_id: str
    region: str
    parameters: dict[str, Any]
    bucket_name: str
    bucket_arn: str
    spend_prefix: str
    error_output_prefix: str
    bucket_notification: dict[str, Any]
    lifecycle_rules: list[dict[str, Any]]
    bedrock_log_group: str
    bedrock_log_stream: str
    subscription_filter_name: str
    subscription_filter_pattern: str
    delivery_stream_name: str
    delivery_stream_arn: str
    delivery_stream_type: str
    delivery_stream_config: dict[str, Any]
    """ExtendedS3DestinationConfiguration exactly as passed to CreateDeliveryStream."""
    firehose_log_group: str
    firehose_log_stream: str
    queue_name: str
    queue_url: str
    queue_arn: str
    dlq_name: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int
    idempotency_table: str
    transform: FunctionSpec
    mirror: FunctionSpec
    mirror_log_group_root: str
    log_groups: dict[str, int | None] = field(default_factory=dict)
    """Every log group the template creates (name -> retention days), Bedrock's included."""
    log_streams: list[tuple[str, str]] = field(default_factory=list)
    queues: list[QueueSpec] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def processor_parameters(self) -> dict[str, str]:
        """The Lambda processor's parameters (LambdaArn, NumberOfRetries, BufferSizeInMBs, ...)."""
        processors = self.delivery_stream_config["ProcessingConfiguration"]["Processors"]
        lambda_processor = next(p for p in processors if p["Type"] == "Lambda")
        return {p["ParameterName"]: p["ParameterValue"] for p in lambda_processor["Parameters"]}


def _only(stack: ResolvedTemplate, resource_type: str) -> str:
    found = stack.of_type(resource_type)
    if len(found) != 1:
        raise ResolveError(f"expected exactly one {resource_type}, found {found}")
    return found[0]


def _api_shape(node: Any) -> Any:
    """CloudFormation property values -> API values: integers where the API wants integers."""
    if isinstance(node, list):
        return [_api_shape(item) for item in node]
    if isinstance(node, dict):
        return {
            key: int(value) if key in _INT_FIELDS else _api_shape(value)
            for key, value in node.items()
            if key != "Tags"
        }
    return node


def _function_spec(stack: ResolvedTemplate, logical_id: str) -> FunctionSpec:
    globals_ = stack.resolve((stack.template.get("Globals", {}) or {}).get("Function", {}) or {})
    props = stack.properties(logical_id)
    env = dict((globals_.get("Environment") or {}).get("Variables") or {})
    env.update((props.get("Environment") or {}).get("Variables") or {})
    merged = {**globals_, **props}
    return FunctionSpec(
        logical_id=logical_id,
        name=stack.physical_name(logical_id),
        arn=stack.arn(logical_id),
        handler=str(merged["Handler"]),
        runtime=str(merged["Runtime"]),
        architectures=tuple(merged.get("Architectures") or ("x86_64",)),
        timeout=int(merged.get("Timeout", 3)),
        environment={key: str(value) for key, value in env.items()},
    )


def _queue_attributes(props: Mapping[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds",
    ):
        if key in props:
            attributes[key] = str(props[key])
    if "SqsManagedSseEnabled" in props:
        attributes["SqsManagedSseEnabled"] = str(props["SqsManagedSseEnabled"]).lower()
    if "RedrivePolicy" in props:
        policy = dict(props["RedrivePolicy"])
        policy["maxReceiveCount"] = int(policy["maxReceiveCount"])
        attributes["RedrivePolicy"] = json.dumps(policy, separators=(",", ":"))
    return attributes


def _lifecycle_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """AWS::S3::Bucket Rule -> PutBucketLifecycleConfiguration LifecycleRule."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        api: dict[str, Any] = {
            "ID": rule.get("Id", f"rule-{len(out)}"),
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if "AbortIncompleteMultipartUpload" in rule:
            days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
            api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        out.append(api)
    return out


def resolve_resources(
    template_path: str | Path = DEFAULT_TEMPLATE,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
    parameters: Mapping[str, str] | None = None,
) -> LocalResources:
    """Compute the local stack's concrete names and configurations from the template (no AWS call)."""
    stack = ResolvedTemplate(
        load_template(template_path), stack_name, account_id, region, dict(parameters or {})
    )

    bucket_id = _only(stack, "AWS::S3::Bucket")
    bucket = stack.properties(bucket_id)
    stream_id = _only(stack, "AWS::KinesisFirehose::DeliveryStream")
    stream = stack.properties(stream_id)
    destination = _api_shape(stream["ExtendedS3DestinationConfiguration"])
    filter_id = _only(stack, "AWS::Logs::SubscriptionFilter")
    subscription = stack.properties(filter_id)

    # Log groups/streams: every enabled one, plus the Bedrock source group (always needed locally,
    # whether the real stack creates it or it pre-exists) and its stream.
    log_groups: dict[str, int | None] = {}
    for logical_id in stack.of_type("AWS::Logs::LogGroup"):
        props = stack.properties(logical_id)
        retention = props.get("RetentionInDays")
        log_groups[str(props["LogGroupName"])] = int(retention) if retention is not None else None
    bedrock_group = str(subscription["LogGroupName"])
    log_groups.setdefault(bedrock_group, None)
    log_streams: list[tuple[str, str]] = []
    bedrock_stream = None
    for logical_id in stack.of_type("AWS::Logs::LogStream", only_enabled=False):
        props = stack.properties(logical_id)
        pair = (str(props["LogGroupName"]), str(props["LogStreamName"]))
        if pair[0] == bedrock_group:
            bedrock_stream = pair[1]
            log_streams.append(pair)
        elif stack.enabled(logical_id):
            log_streams.append(pair)
    if bedrock_stream is None:
        raise ResolveError(f"the template declares no log stream for {bedrock_group}")

    # Queues: the mirror queue is the bucket notification's target; its DLQ is its redrive target.
    queues = [
        QueueSpec(
            logical_id=logical_id,
            name=stack.physical_name(logical_id),
            arn=stack.arn(logical_id),
            attributes=_queue_attributes(stack.properties(logical_id)),
        )
        for logical_id in stack.of_type("AWS::SQS::Queue")
    ]
    queues.sort(key=lambda q: "RedrivePolicy" in q.attributes)  # dead-letter queues first
    by_arn = {q.arn: q for q in queues}
    queue_configs = bucket["NotificationConfiguration"]["QueueConfigurations"]
    notification = {
        "QueueConfigurations": [
            {
                "QueueArn": config["Queue"],
                "Events": [config["Event"]],
                "Filter": {"Key": {"FilterRules": config["Filter"]["S3Key"]["Rules"]}},
            }
            for config in queue_configs
        ]
    }
    mirror_queue = by_arn[queue_configs[0]["Queue"]]
    redrive = json.loads(mirror_queue.attributes["RedrivePolicy"])
    dlq = by_arn[redrive["deadLetterTargetArn"]]
    spend_prefix = next(
        rule["Value"] for rule in queue_configs[0]["Filter"]["S3Key"]["Rules"] if rule["Name"] == "prefix"
    )

    tables = {}
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        props = stack.properties(logical_id)
        tables[str(props["TableName"])] = props

    # Functions: the transform is the stream's Lambda processor; the mirror consumes the queue.
    functions = {fid: _function_spec(stack, fid) for fid in stack.of_type("AWS::Serverless::Function")}
    processors = destination["ProcessingConfiguration"]["Processors"]
    lambda_arn = next(
        p["ParameterValue"]
        for proc in processors
        if proc["Type"] == "Lambda"
        for p in proc["Parameters"]
        if p["ParameterName"] == "LambdaArn"
    )
    transform = next(f for f in functions.values() if f.arn == lambda_arn)
    mirror_id = next(
        fid
        for fid in functions
        for event in (stack.properties(fid).get("Events") or {}).values()
        if event.get("Type") == "SQS" and event["Properties"]["Queue"] == mirror_queue.arn
    )
    mirror = functions[mirror_id]
    table_name = mirror.environment.get("BEDROCK_SPEND_IDEMPOTENCY_TABLE", "")
    if table_name not in tables:
        raise ResolveError(f"mirror idempotency table {table_name!r} is not declared")

    logging = destination.get("CloudWatchLoggingOptions", {})
    return LocalResources(
        stack_name=stack_name,
        account_id=account_id,
        region=region,
        parameters=dict(stack.parameters),
        bucket_name=stack.physical_name(bucket_id),
        bucket_arn=stack.arn(bucket_id),
        spend_prefix=spend_prefix,
        error_output_prefix=destination["ErrorOutputPrefix"],
        bucket_notification=notification,
        lifecycle_rules=_lifecycle_rules(bucket.get("LifecycleConfiguration", {}).get("Rules", [])),
        bedrock_log_group=bedrock_group,
        bedrock_log_stream=bedrock_stream,
        subscription_filter_name=str(subscription["FilterName"]),
        subscription_filter_pattern=str(subscription.get("FilterPattern", "")),
        delivery_stream_name=stack.physical_name(stream_id),
        delivery_stream_arn=stack.arn(stream_id),
        delivery_stream_type=str(stream.get("DeliveryStreamType", "DirectPut")),
        delivery_stream_config=destination,
        firehose_log_group=str(logging.get("LogGroupName", "")),
        firehose_log_stream=str(logging.get("LogStreamName", "")),
        queue_name=mirror_queue.name,
        queue_url=stack.queue_url(mirror_queue.name),
        queue_arn=mirror_queue.arn,
        dlq_name=dlq.name,
        dlq_url=stack.queue_url(dlq.name),
        dlq_arn=dlq.arn,
        max_receive_count=int(redrive["maxReceiveCount"]),
        idempotency_table=table_name,
        transform=transform,
        mirror=mirror,
        mirror_log_group_root=str(stack.template["Mappings"]["Constants"]["Mirror"]["LogGroupRoot"]),
        log_groups=log_groups,
        log_streams=log_streams,
        queues=queues,
        tables=tables,
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _create_bucket(s3: Any, res: LocalResources) -> None:
    kwargs: dict[str, Any] = {"Bucket": res.bucket_name}
    if res.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": res.region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    if res.lifecycle_rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=res.bucket_name, LifecycleConfiguration={"Rules": res.lifecycle_rules}
        )


def _create_logs(logs: Any, res: LocalResources) -> None:
    for group, retention in res.log_groups.items():
        try:
            logs.create_log_group(logGroupName=group)
        except ClientError as exc:
            if _error_code(exc) != "ResourceAlreadyExistsException":
                raise
        if retention is not None:
            logs.put_retention_policy(logGroupName=group, retentionInDays=retention)
    for group, stream in res.log_streams:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            if _error_code(exc) != "ResourceAlreadyExistsException":
                raise


def _create_queues(sqs: Any, res: LocalResources) -> dict[str, str]:
    urls: dict[str, str] = {}
    for queue in res.queues:
        try:
            url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
            if queue.attributes:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=queue.attributes)
        except ClientError as exc:
            if "NonExistentQueue" not in _error_code(exc):
                raise
            url = sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)["QueueUrl"]
        urls[queue.name] = str(url)
    return urls


def _create_tables(dynamodb: Any, res: LocalResources) -> None:
    for name, props in res.tables.items():
        try:
            dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        except ClientError as exc:
            if _error_code(exc) != "ResourceInUseException":
                raise
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )


def _create_stream(firehose: Any, res: LocalResources) -> None:
    try:
        firehose.describe_delivery_stream(DeliveryStreamName=res.delivery_stream_name)
        return  # exists; dynamic partitioning cannot be changed after creation anyway
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    firehose.create_delivery_stream(
        DeliveryStreamName=res.delivery_stream_name,
        DeliveryStreamType=res.delivery_stream_type,
        ExtendedS3DestinationConfiguration=res.delivery_stream_config,
        Tags=[{"Key": "managed-by", "Value": "bedrock-spend"}],
    )


def provision(
    template_path: str | Path = DEFAULT_TEMPLATE,
    *,
    s3: Any,
    logs: Any,
    firehose: Any,
    sqs: Any,
    dynamodb: Any,
    stack_name: str = DEFAULT_STACK_NAME,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
    parameters: Mapping[str, str] | None = None,
) -> LocalResources:
    """Create the local stack in the emulator the clients point at; return its concrete names.

    ``account_id``/``region`` must be the emulator's (moto: 123456789012 unless configured) so
    that ARNs in the template (bucket -> queue notification) resolve to the created resources.
    """
    res = resolve_resources(
        template_path, stack_name=stack_name, account_id=account_id, region=region, parameters=parameters
    )
    urls = _create_queues(sqs, res)
    _create_tables(dynamodb, res)
    _create_logs(logs, res)
    _create_bucket(s3, res)
    s3.put_bucket_notification_configuration(
        Bucket=res.bucket_name, NotificationConfiguration=res.bucket_notification
    )
    _create_stream(firehose, res)
    # The emulator's URLs are authoritative (their host may differ from the canonical form).
    return _with_urls(res, queue_url=urls[res.queue_name], dlq_url=urls[res.dlq_name])


def _with_urls(res: LocalResources, *, queue_url: str, dlq_url: str) -> LocalResources:
    from dataclasses import replace

    return replace(res, queue_url=queue_url, dlq_url=dlq_url)
