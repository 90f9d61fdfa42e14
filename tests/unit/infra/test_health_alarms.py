"""Unit: the pipeline-health alarms of infra/template.yaml point at the right metrics and the topic."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.local.cfn import ResolvedTemplate, load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "infra" / "template.yaml"
TOPIC = {"Ref": "BudgetAlarmTopic"}
POWERTOOLS_SERVICE = {"Name": "service", "Value": "bedrock-spend"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _alarm(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::CloudWatch::Alarm"
    props: dict[str, Any] = resource["Properties"]
    assert props["AlarmActions"] == [TOPIC], logical_id
    return props


def test_transform_errors_alarm_watches_the_transform_function(template: dict[str, Any]) -> None:
    props = _alarm(template, "TransformErrorsAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "TransformFunction"}}]
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0


def test_processing_failed_alarm_names_the_powertools_dimension_set(template: dict[str, Any]) -> None:
    props = _alarm(template, "ProcessingFailedAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("BedrockSpend", "ProcessingFailed")
    assert props["Dimensions"] == [POWERTOOLS_SERVICE]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == POWERTOOLS_SERVICE["Value"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == props["Namespace"]


def test_reput_failure_alarm_counts_the_reputters_error_message(template: dict[str, Any]) -> None:
    from transform.reput import ReputError, Reputter

    metric_filter = template["Resources"]["ReputFailureMetricFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "TransformLogGroup"}
    phrase = metric_filter["FilterPattern"].strip('"')

    class Failing:
        def put_record_batch(self, **_: Any) -> dict[str, Any]:
            return {"FailedPutCount": 1, "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"}]}

    with pytest.raises(ReputError) as raised:
        Reputter(Failing(), max_attempts=1, sleep=lambda _: None).put("s", [b"x"])
    assert phrase in str(raised.value)  # the filter matches what the Lambda logs on failure
    (transformation,) = metric_filter["MetricTransformations"]
    props = _alarm(template, "ReputFailureAlarm")
    assert (props["Namespace"], props["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )


def test_mirror_dlq_alarm_watches_the_dlq_depth(template: dict[str, Any]) -> None:
    props = _alarm(template, "MirrorDeadLetterAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["MirrorDeadLetterQueue", "QueueName"]}}
    ]


@pytest.mark.parametrize(
    ("logical_id", "metric"),
    [
        ("FirehoseDeliveryAlarm", "DeliveryToS3.Success"),
        ("FirehoseProcessingAlarm", "ExecuteProcessing.Success"),
    ],
)
def test_firehose_alarms_fire_below_full_success(
    template: dict[str, Any], logical_id: str, metric: str
) -> None:
    props = _alarm(template, logical_id)
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Firehose", metric)
    assert props["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": {"Ref": "SpendDeliveryStream"}}]
    assert props["ComparisonOperator"] == "LessThanThreshold" and props["Threshold"] == 1
    assert props["TreatMissingData"] == "notBreaching"  # idle is not a failure


@pytest.mark.parametrize("slot", ["1", "2"])
def test_silent_entity_type_alarms_fill_missing_hours_with_zero(template: dict[str, Any], slot: str) -> None:
    resource = template["Resources"][f"SilentEntityType{slot}Alarm"]
    assert resource["Condition"] == f"WatchSilent{slot}"
    props = _alarm(template, f"SilentEntityType{slot}Alarm")
    metrics = {m["Id"]: m for m in props["Metrics"]}
    stat = metrics["cost"]["MetricStat"]
    assert (
        stat["Metric"]["Namespace"] == "BedrockSpend" and stat["Metric"]["MetricName"] == "EstimatedCostUSD"
    )
    assert stat["Metric"]["Dimensions"] == [
        {"Name": "entity_type", "Value": {"Ref": f"SilentEntityType{slot}"}},
        POWERTOOLS_SERVICE,
    ]
    assert stat["Period"] == 3600
    assert metrics["filled"]["Expression"] == "FILL(cost, 0)" and metrics["filled"]["ReturnData"] is True
    assert props["EvaluationPeriods"] == {"Ref": "SilentHours"} == props["DatapointsToAlarm"]
    assert (
        props["ComparisonOperator"] == "LessThanOrEqualToThreshold"
        and props["TreatMissingData"] == "breaching"
    )
    # CloudWatch evaluates at most 7 days: SilentHours x 1 h must stay within it
    assert int(template["Parameters"]["SilentHours"]["MaxValue"]) * 3600 <= 7 * 86_400


def test_silent_alarms_are_enabled_by_default(template: dict[str, Any]) -> None:
    stack = ResolvedTemplate(template, "unit", "123456789012", "us-east-1")
    assert stack.enabled("SilentEntityType1Alarm") and stack.enabled("SilentEntityType2Alarm")
    disabled = ResolvedTemplate(template, "unit", "123456789012", "us-east-1", {"SilentEntityType1": ""})
    assert not disabled.enabled("SilentEntityType1Alarm")


def test_dashboard_shows_the_health_metrics_and_alarms(template: dict[str, Any]) -> None:
    body = template["Resources"]["SpendDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    referenced = set(re.findall(r"\$\{([A-Za-z0-9]+)\.Arn\}", body))
    assert {
        "TransformErrorsAlarm",
        "ProcessingFailedAlarm",
        "ReputFailureAlarm",
        "FirehoseDeliveryAlarm",
        "FirehoseProcessingAlarm",
        "MirrorDeadLetterAlarm",
    } <= referenced
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    flat = json.dumps(widgets)
    for metric in ("ProcessingFailed", "ReputFailures", "DeliveryToS3.Success", "ExecuteProcessing.Success"):
        assert metric in flat
    assert any(w["type"] == "alarm" for w in widgets)
