"""The EventBridge API (`AWSEvents`, AWS JSON 1.1) on Firebox's endpoint: the `events` client of boto3 and
`aws events`.

Management (buses, rules, targets) is the control plane's (`control/events.py`, `control/event_targets.py`);
PutEvents and TestEventPattern are the event bus's (`eventsources/event_bus.py`). Members and result shapes are
EventBridge's own; timestamps are epoch seconds on this wire.
"""

from __future__ import annotations

from typing import Any

from firebox.api.routes.rpc_types import Operation
from firebox.api.services import Services
from firebox.control.events import BUS_NAME_OR_ARN, Members
from firebox.errors import ValidationException


async def create_event_bus(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.create_event_bus(params)


async def describe_event_bus(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.describe_event_bus(params)


async def list_event_buses(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.list_event_buses(params)


async def delete_event_bus(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    await services.events.delete_event_bus(params)
    return {}


async def put_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.put_rule(params)


async def describe_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.describe_rule(params)


async def list_rules(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.events.list_rules(params)


async def enable_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    await services.events.enable_rule(params)
    return {}


async def disable_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    await services.events.disable_rule(params)
    return {}


async def delete_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    await services.events.delete_rule(params)
    return {}


async def put_targets(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.event_targets.put_targets(params)


async def remove_targets(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.event_targets.remove_targets(params)


async def list_targets_by_rule(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.event_targets.list_targets_by_rule(params)


async def list_rule_names_by_target(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    return await services.event_targets.list_rule_names_by_target(params)


async def put_events(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    members = Members(params)
    entries = members.items("Entries", 1, 10, required=True)
    for index, entry in enumerate(entries, start=1):
        where = f"entries.{index}.member"
        if not isinstance(entry, dict):
            raise ValidationException(f"Value at '{where}' must be a structure.")
        for member in ("Source", "DetailType", "Detail"):
            members.string(member, source=entry, field=f"{where}.{member[:1].lower()}{member[1:]}")
        members.string(
            "EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN, source=entry, field=f"{where}.eventBusName"
        )
        members.string("TraceHeader", low=1, high=500, source=entry, field=f"{where}.traceHeader")
        resources = entry.get("Resources") or []
        if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
            raise ValidationException(f"Value at '{where}.resources' must be a list of strings.")
        for position, resource in enumerate(resources, start=1):
            if len(resource) > 2048:
                members.violations.append(
                    (
                        resource,
                        f"{where}.resources.{position}.member",
                        "Member must have length less than or equal to 2048",
                    )
                )
    members.check()
    if params.get("EndpointId") is not None:
        raise ValidationException("Firebox has no global endpoints: send PutEvents without EndpointId.")
    return await services.event_bus.put_events(entries)


async def test_event_pattern(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    members = Members(params)
    pattern = members.string("EventPattern", required=True, high=4096)
    event = members.string("Event", required=True)
    members.check()
    assert pattern is not None and event is not None
    return {"Result": services.event_bus.test_event_pattern(pattern, event)}


OPERATIONS: dict[str, Operation] = {
    "CreateEventBus": create_event_bus,
    "DescribeEventBus": describe_event_bus,
    "ListEventBuses": list_event_buses,
    "DeleteEventBus": delete_event_bus,
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "EnableRule": enable_rule,
    "DisableRule": disable_rule,
    "DeleteRule": delete_rule,
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
    "ListRuleNamesByTarget": list_rule_names_by_target,
    "PutEvents": put_events,
    "TestEventPattern": test_event_pattern,
}
