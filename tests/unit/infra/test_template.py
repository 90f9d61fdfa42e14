"""Unit: the contracts of infra/template.yaml that the Lambda code and the local stack rely on."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.cfn import ResolvedTemplate, load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "infra" / "template.yaml"
MEMBER = ROOT / "infra" / "member-account.yaml"
PARTITION_KEY = re.compile(r"!\{partitionKeyFromLambda:([A-Za-z0-9_]+)\}")

# The transform's partition keys (DESIGN.md: spend/entity_type=<t>/entity_id=<id>/dt=<YYYY-MM-DD>/).
TRANSFORM_PARTITION_KEYS = {"entity_type", "entity_id", "dt"}
ENTITY_TYPES = ["tenant", "user", "ci", "demo", "unattributed", "invalid"]
SPEND_RECORD_V1 = [
    "schema_version", "request_id", "event_time", "dt", "account_id", "region", "inference_region",
    "operation", "model_id", "model", "inference_scope", "principal_arn", "entity_type", "entity_id",
    "entity_name", "input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_write_input_tokens", "input_cost_usd", "output_cost_usd", "cache_read_cost_usd",
    "cache_write_cost_usd", "estimated_cost_usd", "pricing_status", "price_version", "error_code",
    "request_metadata", "log_group", "log_stream", "log_event_id", "invalid_reason", "raw_message",
]  # fmt: skip


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def stack(template: dict[str, Any]) -> ResolvedTemplate:
    return ResolvedTemplate(template, "unit", "123456789012", "us-east-1")


def _destination(template: dict[str, Any]) -> dict[str, Any]:
    props = template["Resources"]["SpendDeliveryStream"]["Properties"]
    destination: dict[str, Any] = props["ExtendedS3DestinationConfiguration"]
    return destination


def test_prefix_partition_keys_are_the_transforms(template: dict[str, Any]) -> None:
    prefix = _destination(template)["Prefix"]
    assert set(PARTITION_KEY.findall(prefix)) == TRANSFORM_PARTITION_KEYS
    assert prefix == (
        "spend/entity_type=!{partitionKeyFromLambda:entity_type}"
        "/entity_id=!{partitionKeyFromLambda:entity_id}/dt=!{partitionKeyFromLambda:dt}/"
    )


def test_error_prefix_uses_error_output_type_and_no_partition_key(template: dict[str, Any]) -> None:
    error_prefix = _destination(template)["ErrorOutputPrefix"]
    assert "!{firehose:error-output-type}" in error_prefix
    assert "partitionKeyFromLambda" not in error_prefix
    assert error_prefix.startswith("errors/")


def test_dynamic_partitioning_and_buffering(template: dict[str, Any]) -> None:
    destination = _destination(template)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["CompressionFormat"] == "GZIP"
    params = template["Parameters"]
    assert destination["BufferingHints"] == {
        "SizeInMBs": {"Ref": "BufferSizeMB"},
        "IntervalInSeconds": {"Ref": "BufferIntervalSeconds"},
    }
    assert int(params["BufferSizeMB"]["Default"]) >= 64 and int(params["BufferSizeMB"]["MinValue"]) >= 64
    assert int(params["BufferIntervalSeconds"]["Default"]) == 60


def test_processing_configuration_points_at_transform_function(template: dict[str, Any]) -> None:
    processing = _destination(template)["ProcessingConfiguration"]
    assert processing["Enabled"] is True
    (processor,) = processing["Processors"]
    assert processor["Type"] == "Lambda"
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert params["LambdaArn"] == {"Fn::GetAtt": ["TransformFunction", "Arn"]}
    assert set(params) == {"LambdaArn", "NumberOfRetries", "BufferSizeInMBs", "BufferIntervalInSeconds"}
    function = template["Resources"]["TransformFunction"]
    assert function["Properties"]["Handler"] == "transform.handler.lambda_handler"


def test_mirror_consumes_the_queue_with_partial_batch_responses(template: dict[str, Any]) -> None:
    mirror = template["Resources"]["MirrorFunction"]["Properties"]
    assert mirror["Handler"] == "transform.mirror.lambda_handler"
    (event,) = mirror["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["MirrorQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    env = mirror["Environment"]["Variables"]
    assert env["BEDROCK_SPEND_IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert env["BEDROCK_SPEND_LOG_RETENTION_DAYS"] == {"Ref": "MirrorLogRetentionDays"}


def test_functions_globals(template: dict[str, Any]) -> None:
    function = template["Globals"]["Function"]
    assert function["Architectures"] == ["arm64"]
    assert function["Runtime"] == "python3.12"
    assert function["CodeUri"] == "build/lambda/"
    env = function["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "bedrock-spend"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "BedrockSpend"
    assert env["BEDROCK_SPEND_ALLOWED_ACCOUNTS"] == {"Ref": "AllowedAccounts"}


def test_s3_notification_announces_spend_prefix_only(stack: ResolvedTemplate) -> None:
    bucket = stack.properties("SpendBucket")
    (config,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "spend/"}]
    rules = {r["Prefix"]: r for r in bucket["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
    assert "ExpirationInDays" in rules["errors/"]


def test_transform_may_reput_only_into_its_own_stream(stack: ResolvedTemplate) -> None:
    statements = stack.properties("TransformRole")["Policies"][0]["PolicyDocument"]["Statement"]
    (reput,) = [s for s in statements if "firehose:PutRecordBatch" in s["Action"]]
    assert reput["Resource"] == stack.arn("SpendDeliveryStream")


def test_glue_table_projection_and_columns(template: dict[str, Any], stack: ResolvedTemplate) -> None:
    table = stack.properties("SpendRecordsTable")["TableInput"]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.entity_type.type"] == "enum"
    assert params["projection.entity_type.values"].split(",") == ENTITY_TYPES
    assert params["projection.entity_id.type"] == "injected"
    assert params["projection.dt.type"] == "date"
    bucket = stack.physical_name("SpendBucket")
    assert params["storage.location.template"] == (
        f"s3://{bucket}/spend/entity_type=${{entity_type}}/entity_id=${{entity_id}}/dt=${{dt}}/"
    )
    partition_keys = [k["Name"] for k in table["PartitionKeys"]]
    assert partition_keys == ["entity_type", "entity_id", "dt"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert list(columns) == [c for c in SPEND_RECORD_V1 if c not in partition_keys]
    assert (
        table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        == "org.openx.data.jsonserde.JsonSerDe"
    )
    assert columns["input_tokens"] == "bigint"
    assert columns["estimated_cost_usd"] == "decimal(20,12)"
    assert columns["request_metadata"] == "map<string,string>"
    flat = stack.properties("SpendRecordsAllTable")["TableInput"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in flat] == SPEND_RECORD_V1


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if "Fn::If" in statement:  # a conditional statement: check its "true" branch
                    statement = statement["Fn::If"][1]
                yield logical_id, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_iam_actions_are_scoped(template: dict[str, Any], stack: ResolvedTemplate) -> None:
    for logical_id, statement in _statements(template):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{logical_id}: wildcard action {action}"
        for resource in _as_list(stack.resolve(statement["Resource"])):
            if resource == "*":
                assert all(a.startswith("xray:") for a in _as_list(statement["Action"])), logical_id
    assert template["Resources"]["TransformFunction"]["Properties"]["Role"]
    assert template["Resources"]["MirrorFunction"]["Properties"]["Role"]


def test_mirror_log_permissions_are_under_bedrock(template: dict[str, Any], stack: ResolvedTemplate) -> None:
    statements = {s.get("Sid"): s for _, s in _statements(template) if _ == "MirrorRole"}
    per_entity = statements["PerEntityLogGroups"]
    assert set(per_entity["Action"]) == {
        "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource", "logs:TagLogGroup",
        "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
    }  # fmt: skip
    for resource in stack.resolve(per_entity["Resource"]):
        assert ":log-group:/bedrock/" in resource
    read = statements["ReadSpendObjects"]
    assert read["Action"] == "s3:GetObject"
    assert stack.resolve(read["Resource"]).endswith("/spend/*")
    for sid, statement in statements.items():
        if sid in ("OwnLogs", "XRay", "PerEntityLogGroups"):
            continue
        assert stack.resolve(statement["Resource"]) != "*", sid


def test_bedrock_source_group_is_not_under_mirror_root(template: dict[str, Any]) -> None:
    root = template["Mappings"]["Constants"]["Mirror"]["LogGroupRoot"]
    assert not template["Parameters"]["BedrockLogGroupName"]["Default"].startswith(root)
    assert template["Mappings"]["Constants"]["Bedrock"]["LogStream"] == "aws/bedrock/modelinvocations"


def test_every_taggable_resource_is_tagged(template: dict[str, Any]) -> None:
    untaggable = {
        "AWS::Logs::LogStream", "AWS::Logs::SubscriptionFilter", "AWS::Logs::MetricFilter",
        "AWS::Logs::Destination", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
        "AWS::SNS::Subscription", "AWS::Glue::Database", "AWS::Glue::Table",
        "AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm", "AWS::Serverless::Function",
        "AWS::Athena::NamedQuery",
    }  # fmt: skip
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in untaggable:
            continue
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("managed-by") == "bedrock-spend", logical_id
    assert template["Globals"]["Function"]["Tags"] == {"managed-by": "bedrock-spend"}


def test_enable_logging_cli_call_is_documented(template: dict[str, Any]) -> None:
    assert "put-model-invocation-logging-configuration" in template["Description"]
    command = template["Outputs"]["EnableBedrockLoggingCommand"]["Value"]["Fn::Sub"]
    assert "aws bedrock put-model-invocation-logging-configuration" in command


@pytest.mark.parametrize("path", [TEMPLATE, MEMBER], ids=lambda p: p.name)
def test_cfn_lint_reports_no_errors(path: Path) -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    matches = cfnlint_api.lint_file(path)
    assert [str(m) for m in matches] == []


def test_sam_translator_transforms_the_template(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    transform_module = pytest.importorskip("samtranslator.translator.transform")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    class NoManagedPolicies:
        """The template names no managed policy; the translator must not need to look any up."""

        def load(self) -> dict[str, str]:
            return {}

    fragment = copy.deepcopy(template)
    # What `sam package` does: the local build/lambda/ becomes an S3 artefact.
    fragment["Globals"]["Function"]["CodeUri"] = "s3://artefacts/bedrock-spend/lambda.zip"
    output = transform_module.transform(fragment, {}, NoManagedPolicies())
    resources = output["Resources"]
    assert resources["TransformFunction"]["Type"] == "AWS::Lambda::Function"
    assert resources["MirrorFunction"]["Properties"]["Architectures"] == ["arm64"]
    mapping = resources["MirrorFunctionSpendObjects"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Explicit roles: SAM generated none, so no managed policy with account-wide actions.
    assert not [r for r in resources if r.endswith("FunctionRole")]


def test_profile_lookups_are_opt_in_and_scoped(template: dict[str, Any], stack: ResolvedTemplate) -> None:
    statements = {s.get("Sid"): s for logical_id, s in _statements(template) if logical_id == "TransformRole"}
    profiles = statements["ReadApplicationInferenceProfiles"]
    assert set(profiles["Action"]) == {"bedrock:GetInferenceProfile", "bedrock:ListTagsForResource"}
    assert ":application-inference-profile/" in stack.resolve(profiles["Resource"])
    assert template["Parameters"]["ResolveInferenceProfiles"]["Default"] == "false"
    env = template["Resources"]["TransformFunction"]["Properties"]["Environment"]["Variables"]
    assert env["BEDROCK_SPEND_RESOLVE_PROFILES"] == {"Ref": "ResolveInferenceProfiles"}
