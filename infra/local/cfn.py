"""Read a CloudFormation/SAM template and resolve its intrinsic functions to concrete values.

Only what the local stack needs to turn infra/template.yaml into physical names: parameters
(defaults and overrides), pseudo parameters, conditions, Mappings, and the intrinsic functions
Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Select,
Fn::Split, Fn::FindInMap, Fn::Base64 and Fn::GetAZs (semantics: "Intrinsic function reference",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html;
Ref and Fn::GetAtt return values per resource type are from each resource's "Return values"
section of the CloudFormation resource reference).

Physical names: a resource whose name property is set in the template gets that name. One
without (IAM roles here, for instance) gets the deterministic name ``<stack_name>-<LogicalId>``
(cut to the type's maximum length; lower-cased for S3 buckets and Glue). Real CloudFormation
appends a random suffix instead; locally names must be the same on every run.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()
"""What ``Ref: AWS::NoValue`` resolves to; dropped from the enclosing mapping or list."""

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub",
            "Join",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Select",
            "Split",
            "FindInMap",
            "Base64",
            "GetAZs",
            "ImportValue",
            "Cidr",
            "Length",
            "ToJsonString",
            "Transform",
        )
    },
}


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags (!Ref, !Sub, ...) into their long form."""


def _make_constructor(fn: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if fn == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {fn: value}

    return construct


for _tag, _fn in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_fn))


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short tags included."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CfnLoader)  # a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a template")
    return document


class ResolveError(ValueError):
    """The template uses something this resolver cannot turn into a concrete value."""


# Name property per resource type, and how long / which case a derived name must be.
_NAME_PROPERTY: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Logs::LogStream": ("LogStreamName",),
    "AWS::Logs::Destination": ("DestinationName",),
    "AWS::Logs::SubscriptionFilter": ("FilterName",),
    "AWS::Logs::MetricFilter": ("FilterName",),
    "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Serverless::Function": ("FunctionName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Glue::Table": ("TableInput", "Name"),
}
_MAX_LEN = {"AWS::S3::Bucket": 63, "AWS::SQS::Queue": 80, "AWS::IAM::Role": 64, "AWS::DynamoDB::Table": 255}
_LOWER = {"AWS::S3::Bucket", "AWS::Glue::Database", "AWS::Glue::Table"}
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass
class ResolvedTemplate:
    """A template bound to a stack name, account, region and parameter values."""

    template: dict[str, Any]
    stack_name: str
    account_id: str
    region: str
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    partition: str = "aws"
    parameters: dict[str, Any] = field(init=False)
    _conditions: dict[str, bool] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        declared: dict[str, Any] = self.template.get("Parameters", {}) or {}
        unknown = set(self.parameter_overrides) - set(declared)
        if unknown:
            raise ResolveError(f"unknown parameters: {sorted(unknown)}")
        self.parameters = {}
        for name, spec in declared.items():
            if name in self.parameter_overrides:
                raw: Any = self.parameter_overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise ResolveError(f"parameter {name} has no default and no value")
            text = str(raw).lower() if isinstance(raw, bool) else str(raw)
            self.parameters[name] = text.split(",") if "List" in str(spec.get("Type", "")) else text

    # ------------------------------------------------------------------ resources
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources", {}) or {})

    def resource_type(self, logical_id: str) -> str:
        try:
            return str(self.resources[logical_id]["Type"])
        except KeyError as exc:
            raise ResolveError(f"no resource {logical_id}") from exc

    def enabled(self, logical_id: str) -> bool:
        """False when the resource's Condition is false (CloudFormation would not create it)."""
        condition = self.resources[logical_id].get("Condition")
        return True if condition is None else self.condition(str(condition))

    def of_type(self, resource_type: str, *, only_enabled: bool = True) -> list[str]:
        return [
            logical_id
            for logical_id, body in self.resources.items()
            if body.get("Type") == resource_type and (not only_enabled or self.enabled(logical_id))
        ]

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties, fully resolved."""
        resolved = self.resolve(self.resources[logical_id].get("Properties", {}) or {})
        return dict(resolved)

    def physical_name(self, logical_id: str) -> str:
        rtype = self.resource_type(logical_id)
        node: Any = self.resources[logical_id].get("Properties", {}) or {}
        for key in _NAME_PROPERTY.get(rtype, ()):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and _NAME_PROPERTY.get(rtype):
            return str(self.resolve(node))
        name = f"{self.stack_name}-{logical_id}"[: _MAX_LEN.get(rtype, 128)]
        return name.lower() if rtype in _LOWER else name

    def arn(self, logical_id: str) -> str:
        rtype = self.resource_type(logical_id)
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account_id
        formats = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Logs::Destination": f"arn:{p}:logs:{r}:{a}:destination:{name}",
            "AWS::KinesisFirehose::DeliveryStream": f"arn:{p}:firehose:{r}:{a}:deliverystream/{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::Serverless::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
        }
        if rtype not in formats:
            raise ResolveError(f"no ARN format for {rtype} ({logical_id})")
        return formats[rtype]

    def queue_url(self, name: str) -> str:
        return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        rtype = self.resource_type(name)
        if rtype == "AWS::SQS::Queue":
            return self.queue_url(self.physical_name(name))
        if rtype == "AWS::SNS::Topic":
            return self.arn(name)
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        rtype = self.resource_type(logical_id)
        if attribute == "Arn" or (rtype == "AWS::SNS::Topic" and attribute == "TopicArn"):
            return self.arn(logical_id)
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return self.physical_name(logical_id)
        if rtype == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return self.queue_url(self.physical_name(logical_id))
        raise ResolveError(f"Fn::GetAtt {logical_id}.{attribute} is not supported locally")

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {}) or {}
            if name not in conditions:
                raise ResolveError(f"no condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic function in ``node`` (a template fragment)."""
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        out: dict[str, Any] = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _function(self, fn: str, arg: Any) -> Any:
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(str(logical_id), str(self.resolve(attribute)))
        if fn == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(str(name)) else when_false)
        if fn == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.resolve(arg[0])
        if fn == "Fn::And":
            return all(self.resolve(item) for item in arg)
        if fn == "Fn::Or":
            return any(self.resolve(item) for item in arg)
        if fn == "Fn::Join":
            delimiter, values = arg
            return str(delimiter).join(str(v) for v in self.resolve(values))
        if fn == "Fn::Select":
            index, values = self.resolve(arg)
            return values[int(index)]
        if fn == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(text)).split(str(delimiter))
        if fn == "Fn::FindInMap":
            mapping, top, second = (str(self.resolve(item)) for item in arg)
            try:
                return self.template["Mappings"][mapping][top][second]
            except KeyError as exc:
                raise ResolveError(f"Fn::FindInMap {mapping}/{top}/{second}") from exc
        if fn == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if fn == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        raise ResolveError(f"{fn} is not supported locally")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = str(arg[0]), {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = str(arg), {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB_VAR.sub(replace, text)
