"""EventBridge rules' targets: PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.

A target is kept as the `Target` document EventBridge returns: `Id`, `Arn`, and what shapes its delivery: one of
`Input` (constant JSON), `InputPath` (a JSON path into the event) or `InputTransformer` (`InputPathsMap` of JSON
paths, `InputTemplate` with `<name>` placeholders), `RetryPolicy` (`MaximumRetryAttempts` 0-185, default 185;
`MaximumEventAgeInSeconds` 60-86,400, default 86,400) and `DeadLetterConfig` (`Arn`: an SQS queue). A rule has at
most five targets.

Firebox delivers to Lambda functions of its own region and account (`arn:aws:lambda:...:function:name`, optionally
qualified); other ARNs come back in `FailedEntries` and are not stored, as EventBridge reports targets it refuses.
Malformed requests (an ARN that is not one, `Input` that is not JSON, a placeholder no variable fills) fail the whole
call with a ValidationException.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from firebox.control.events import (
    BUS_NAME_OR_ARN,
    LIMIT_EXCEEDED,
    MAX_LIST,
    EventBridgeService,
    Members,
    bus_name_of,
    no_bus,
    no_rule,
)
from firebox.errors import LimitExceededException, ValidationException

MAX_TARGETS_PER_RULE = 5
TARGET_ID = r"[\.\-_A-Za-z0-9]+"
PATH_KEY = r"[A-Za-z0-9\_\-]+"
_ARN = re.compile(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.+")
_KEPT = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig")
_OTHER_TARGET_KINDS = (
    "KinesisParameters",
    "RunCommandParameters",
    "EcsParameters",
    "BatchParameters",
    "SqsParameters",
    "HttpParameters",
    "RedshiftDataParameters",
    "SageMakerPipelineParameters",
    "AppSyncParameters",
)


class EventTargetService:
    def __init__(self, events: EventBridgeService) -> None:
        self.events = events
        self.store = events.store
        self._function_arn = re.compile(
            rf"arn:aws:lambda:{re.escape(events.region)}:{re.escape(events.account_id)}:function:"
            r"[a-zA-Z0-9-_]{1,64}(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        )

    async def put_targets(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        rule = members.string("Rule", required=True, low=1, high=64, pattern=r"[\.\-_A-Za-z0-9]+")
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        targets = members.items("Targets", 1, 100, required=True)
        for index, target in enumerate(targets, start=1):
            self._check_members(members, target, f"targets.{index}.member")
        members.check()
        assert rule is not None
        accepted: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for target in targets:
            problem = self._refusal(target)
            if problem is None:
                accepted.append({key: target[key] for key in _KEPT if target.get(key) is not None})
            else:
                failed.append({"TargetId": target["Id"], "ErrorCode": "ValidationException", "ErrorMessage": problem})
        if accepted:
            stored = await self.events.run(self.store.put_event_targets, bus, rule, accepted, MAX_TARGETS_PER_RULE)
            if stored is None:
                raise await self._missing(bus, rule)
            if not stored:
                raise LimitExceededException(LIMIT_EXCEEDED)
            self.events.changed(bus, rule)
        elif await self.events.run(self.store.get_event_rule, bus, rule) is None:
            raise await self._missing(bus, rule)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def _check_members(self, members: Members, target: Any, where: str) -> None:
        if not isinstance(target, dict):
            raise ValidationException(f"Value at '{where}' must be a structure.")
        members.string("Id", required=True, low=1, high=64, pattern=TARGET_ID, source=target, field=f"{where}.id")
        members.string("Arn", required=True, low=1, high=1600, source=target, field=f"{where}.arn")
        members.string("RoleArn", low=1, high=1600, source=target, field=f"{where}.roleArn")
        members.string("Input", high=8192, source=target, field=f"{where}.input")
        members.string("InputPath", high=256, source=target, field=f"{where}.inputPath")
        transformer = target.get("InputTransformer")
        if transformer is not None:
            if not isinstance(transformer, dict):
                raise ValidationException(f"Value at '{where}.inputTransformer' must be a structure.")
            members.string(
                "InputTemplate",
                required=True,
                low=1,
                high=8192,
                source=transformer,
                field=f"{where}.inputTransformer.inputTemplate",
            )
            paths = transformer.get("InputPathsMap") or {}
            if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
                raise ValidationException(f"Value at '{where}.inputTransformer.inputPathsMap' must be a map.")
            field = f"{where}.inputTransformer.inputPathsMap"
            if len(paths) > 100:
                members.violations.append((paths, field, "Member must have length less than or equal to 100"))
            for key, path in paths.items():
                if not re.fullmatch(PATH_KEY, key) or len(key) > 256:
                    members.violations.append(
                        (
                            paths,
                            field,
                            "Map keys must satisfy constraint: [Member must have length less than or equal to 256, "
                            "Member must have length greater than or equal to 1, Member must satisfy regular "
                            f"expression pattern: {PATH_KEY}]",
                        )
                    )
                elif len(path) > 256:
                    members.violations.append(
                        (
                            paths,
                            field,
                            "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
                        )
                    )
        retry = target.get("RetryPolicy")
        if retry is not None:
            if not isinstance(retry, dict):
                raise ValidationException(f"Value at '{where}.retryPolicy' must be a structure.")
            members.integer("MaximumRetryAttempts", 0, 185, retry, f"{where}.retryPolicy.maximumRetryAttempts")
            members.integer(
                "MaximumEventAgeInSeconds", 60, 86400, retry, f"{where}.retryPolicy.maximumEventAgeInSeconds"
            )
        dead_letter = target.get("DeadLetterConfig")
        if dead_letter is not None:
            if not isinstance(dead_letter, dict):
                raise ValidationException(f"Value at '{where}.deadLetterConfig' must be a structure.")
            members.string("Arn", low=1, high=1600, source=dead_letter, field=f"{where}.deadLetterConfig.arn")

    def _refusal(self, target: Mapping[str, Any]) -> str | None:
        """Why the target is refused (a FailedEntries message); None if it is accepted. A malformed one fails the
        whole call instead."""
        target_id, arn = target["Id"], target["Arn"]
        if not _ARN.fullmatch(arn):
            raise ValidationException(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
        given = [member for member in ("Input", "InputPath", "InputTransformer") if target.get(member) is not None]
        if len(given) > 1:
            raise ValidationException(
                f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}."
            )
        if target.get("Input") is not None:
            try:
                json.loads(target["Input"])
            except ValueError:
                raise ValidationException(f"Input for target {target_id} is not a valid JSON text.") from None
        if target.get("InputPath") is not None:
            self._check_path(target["InputPath"], target_id)
        transformer = target.get("InputTransformer")
        if transformer is not None:
            paths = transformer.get("InputPathsMap") or {}
            for path in paths.values():
                self._check_path(path, target_id)
            for name in self.events.evaluation.unknown_placeholders(transformer["InputTemplate"], paths):
                raise ValidationException(f"InputTemplate for target {target_id} contains invalid placeholder {name}.")
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter is not None and not dead_letter.startswith("arn:aws:sqs:"):
            raise ValidationException(
                f"Parameter {dead_letter} is not valid. Reason: the dead-letter queue must be an Amazon SQS queue."
            )
        other = [member for member in _OTHER_TARGET_KINDS if target.get(member) is not None]
        if not self._function_arn.fullmatch(arn):
            return (
                f"Parameter {arn} is not valid. Reason: Firebox delivers rule targets to Lambda functions of "
                f"{self.events.region} and account {self.events.account_id} only."
            )
        if other:
            return f"Parameter(s) {', '.join(other)} not valid for a Lambda function target."
        return None

    def _check_path(self, path: str, target_id: str) -> None:
        try:
            self.events.evaluation.check_input_path(path)
        except ValueError:
            raise ValidationException(f"InputPath {path} for target {target_id} is not a valid JSON path.") from None

    async def remove_targets(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        rule = members.string("Rule", required=True, low=1, high=64, pattern=r"[\.\-_A-Za-z0-9]+")
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        ids = members.items("Ids", 1, 100, required=True)
        for index, target_id in enumerate(ids, start=1):
            members.string(
                "Id", required=True, low=1, high=64, pattern=TARGET_ID, source={"Id": target_id}, field=f"ids.{index}"
            )
        members.check()
        assert rule is not None
        removed = await self.events.run(self.store.remove_event_targets, bus, rule, ids)
        if removed is None:
            raise await self._missing(bus, rule)
        if removed:
            self.events.changed(bus, rule)
        failed = [
            {
                "TargetId": target_id,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": f"Rule '{rule}' does not have a target with the Id '{target_id}'.",
            }
            for target_id in ids
            if target_id not in removed
        ]
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def list_targets_by_rule(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        rule = members.string("Rule", required=True, low=1, high=64, pattern=r"[\.\-_A-Za-z0-9]+")
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        token = members.string("NextToken", low=1, high=2048)
        limit = members.integer("Limit", 1, MAX_LIST) or MAX_LIST
        members.check()
        assert rule is not None
        targets = await self.events.run(self.store.list_event_targets, bus, rule)
        if targets is None:
            raise await self._missing(bus, rule)
        start = int(token) if token is not None and token.isdigit() else 0
        result: dict[str, Any] = {"Targets": targets[start : start + limit]}
        if start + limit < len(targets):
            result["NextToken"] = str(start + limit)
        return result

    async def list_rule_names_by_target(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        arn = members.string("TargetArn", required=True, low=1, high=1600)
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        after = members.string("NextToken", low=1, high=2048)
        limit = members.integer("Limit", 1, MAX_LIST) or MAX_LIST
        members.check()
        assert arn is not None
        if await self.events.run(self.store.get_event_bus, bus) is None:
            raise no_bus(bus)
        names = await self.events.run(self.store.event_rules_by_target, bus, arn, after, limit + 1)
        result: dict[str, Any] = {"RuleNames": names[:limit]}
        if len(names) > limit:
            result["NextToken"] = names[limit - 1]
        return result

    async def _missing(self, bus: str, rule: str) -> Exception:
        if await self.events.run(self.store.get_event_bus, bus) is None:
            return no_bus(bus)
        return no_rule(rule, bus)
