"""Unit: the CloudFormation short-tag loader and intrinsic resolver used by the local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.local.cfn import CfnLoader, ResolvedTemplate, ResolveError, load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "infra" / "template.yaml"

SNIPPET = """
Parameters:
  Prefix: {Type: String, Default: demo}
  Ids: {Type: CommaDelimitedList, Default: "a,b"}
  Flag: {Type: String, Default: "yes"}
Mappings:
  M: {K: {V: mapped}}
Conditions:
  IsYes: !Equals [!Ref Flag, "yes"]
  IsNo: !Not [!Condition IsYes]
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "${Prefix}-q"}}
  Role: {Type: AWS::IAM::Role, Properties: {}}
  Thing:
    Type: AWS::SNS::Topic
    Properties:
      Literal: !Sub "${!notAVar}-${AWS::Region}"
      Arn: !GetAtt Queue.Arn
      Url: !Ref Queue
      Chosen: !If [IsNo, x, !FindInMap [M, K, V]]
      Dropped: !If [IsNo, x, !Ref AWS::NoValue]
      Joined: !Join ["|", !Ref Ids]
      Second: !Select [1, !Split [",", "p,q,r"]]
      RoleArn: !GetAtt Role.Arn
      Vars: !Sub ["${A}/${Queue.QueueName}", {A: !Ref Prefix}]
"""


def _stack(**overrides: str) -> ResolvedTemplate:
    template: dict[str, Any] = yaml.load(SNIPPET, Loader=CfnLoader)
    return ResolvedTemplate(template, "st", "123456789012", "eu-west-1", overrides)


def test_short_tags_become_long_form() -> None:
    node = yaml.load("a: !GetAtt X.Arn\nb: !Ref Y\nc: !Sub s", Loader=CfnLoader)
    assert node == {"a": {"Fn::GetAtt": ["X", "Arn"]}, "b": {"Ref": "Y"}, "c": {"Fn::Sub": "s"}}


def test_intrinsics_resolve() -> None:
    props = _stack().properties("Thing")
    assert props == {
        "Literal": "${notAVar}-eu-west-1",
        "Arn": "arn:aws:sqs:eu-west-1:123456789012:demo-q",
        "Url": "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-q",
        "Chosen": "mapped",
        "Joined": "a|b",
        "Second": "q",
        "RoleArn": "arn:aws:iam::123456789012:role/st-Role",
        "Vars": "demo/demo-q",
    }


def test_overrides_and_unknown_parameters() -> None:
    assert _stack(Prefix="other").physical_name("Queue") == "other-q"
    assert _stack(Flag="no").properties("Thing")["Dropped"] == "x"
    with pytest.raises(ResolveError):
        _stack(Nope="1")


def test_dashboard_body_is_json() -> None:
    stack = ResolvedTemplate(load_template(TEMPLATE), "st", "123456789012", "us-east-1")
    body = json.loads(stack.properties("SpendDashboard")["DashboardBody"])
    text = json.dumps(body)
    for metric in ("EstimatedCostUSD", "Events", "Invalid", "Unattributed", "Reingested"):
        assert metric in text
    assert "entity_type" in text
