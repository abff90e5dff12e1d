"""Event invoke configurations: Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s).

Per qualifier (`$LATEST`, a version or an alias): how many times a failed Event invocation is retried (0-2), how
old an event may get (60-21600 s), and where outcomes go. `Put` replaces the whole configuration, `Update` merges
into it. Destinations are Lambda functions, SQS queues, SNS topics, EventBridge event buses
(`arn:aws:events:<region>:<account>:event-bus/<name>`), or webhook URLs (a Firebox extension).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from firebox.control.functions import FunctionService
from firebox.errors import InvalidParameterValueException, ResourceNotFoundException
from firebox.models.arn import parse_function_id
from firebox.models.asynchronous import EventInvokeConfig
from firebox.models.function import LATEST

_EVENT_BUS = re.compile(r"arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/\.\-_A-Za-z0-9]+")


class EventInvokeConfigService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions
        self.store = functions.store

    def _target(self, text: str, qualifier: str | None) -> tuple[str, str]:
        fid = self.functions.resolve(text, qualifier)
        return fid.name, fid.qualifier or LATEST

    async def put(self, text: str, qualifier: str | None, request: Mapping[str, Any], merge: bool) -> tuple[str, str]:
        name, qualifier_ = self._target(text, qualifier)
        await self.functions.run(self._put, name, qualifier_, request, merge)
        return name, qualifier_

    def _put(self, name: str, qualifier: str, request: Mapping[str, Any], merge: bool) -> None:
        self._require(name, qualifier)
        current = self.store.get_event_invoke_config(name, qualifier) if merge else None
        destinations = request.get("DestinationConfig") or {}
        on_success = (destinations.get("OnSuccess") or {}).get("Destination")
        on_failure = (destinations.get("OnFailure") or {}).get("Destination")
        if not merge and not any(
            (
                request.get("MaximumRetryAttempts") is not None,
                request.get("MaximumEventAgeInSeconds") is not None,
                on_success,
                on_failure,
            )
        ):
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        for destination in filter(None, (on_success, on_failure)):
            self._check_destination(name, destination)
        base = current or EventInvokeConfig()
        config = EventInvokeConfig(
            maximum_retry_attempts=request.get("MaximumRetryAttempts", base.maximum_retry_attempts),
            maximum_event_age=request.get("MaximumEventAgeInSeconds", base.maximum_event_age),
            on_success=on_success if "OnSuccess" in destinations else base.on_success,
            on_failure=on_failure if "OnFailure" in destinations else base.on_failure,
            last_modified=self.functions.clock.now(),
        )
        self.store.put_event_invoke_config(name, qualifier, config)

    def _check_destination(self, name: str, destination: str) -> None:
        if destination.startswith(("http://", "https://", "arn:aws:sqs:", "arn:aws:sns:")) or _EVENT_BUS.fullmatch(
            destination
        ):  # a webhook (a Firebox extension), a queue, a topic or an event bus
            return
        if not destination.startswith("arn:aws:lambda:"):
            raise InvalidParameterValueException(
                f"The destination ARN {destination} is invalid. Firebox delivers destinations to Lambda functions, "
                "SQS queues, SNS topics, EventBridge event buses and webhook URLs."
            )
        target = parse_function_id(destination)
        if target is None or self.store.get_config(target.name, LATEST) is None:
            raise InvalidParameterValueException(f"The destination ARN {destination} is invalid.")
        if target.name == name:
            raise InvalidParameterValueException("You can't specify the function as a destination for itself.")

    async def get(self, text: str, qualifier: str | None) -> tuple[str, str, EventInvokeConfig]:
        name, qualifier_ = self._target(text, qualifier)
        config = await self.functions.run(self._get, name, qualifier_)
        return name, qualifier_, config

    def _get(self, name: str, qualifier: str) -> EventInvokeConfig:
        self._require(name, qualifier)
        config = self.store.get_event_invoke_config(name, qualifier)
        if config is None:
            raise ResourceNotFoundException(
                f"The function {self.functions.arn(name, qualifier)} doesn't have an EventInvokeConfig"
            )
        return config

    async def delete(self, text: str, qualifier: str | None) -> None:
        name, qualifier_ = self._target(text, qualifier)
        await self.functions.run(self._get, name, qualifier_)
        await self.functions.run(self.store.delete_event_invoke_config, name, qualifier_)

    async def list(self, text: str) -> tuple[str, list[tuple[str, EventInvokeConfig]]]:
        name = self.functions.unqualified(text, "ListFunctionEventInvokeConfigs takes an unqualified function name.")
        await self.functions.run(self._require, name, LATEST)
        return name, await self.functions.run(self.store.list_event_invoke_configs, name)

    def _require(self, name: str, qualifier: str) -> None:
        if self.store.get_config(name, LATEST) is None:
            raise ResourceNotFoundException("The function doesn't exist.")
        if qualifier == LATEST:
            return
        exists = (
            self.store.get_config(name, qualifier) is not None
            if qualifier.isdigit()
            else self.store.get_alias(name, qualifier) is not None
        )
        if not exists:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name, qualifier)}")

    def document(self, name: str, qualifier: str, config: EventInvokeConfig) -> dict[str, Any]:
        doc: dict[str, Any] = {"LastModified": config.last_modified, "FunctionArn": self.functions.arn(name, qualifier)}
        if config.maximum_retry_attempts is not None:
            doc["MaximumRetryAttempts"] = config.maximum_retry_attempts
        if config.maximum_event_age is not None:
            doc["MaximumEventAgeInSeconds"] = config.maximum_event_age
        doc["DestinationConfig"] = {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        }
        return doc
