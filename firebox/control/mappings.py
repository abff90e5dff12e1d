"""Event source mappings: Create/Get/Update/Delete/ListEventSourceMappings.

A mapping names a source (an SQS queue, a Kinesis stream, a DynamoDB stream, an Amazon MQ broker's queue), a
function (`$LATEST`, a version or an alias) and how to batch; the members AWS defines for its kind are checked
here with AWS's rules and messages, and stored with AWS's defaults filled in. Writes leave the mapping in one of
AWS's transient states (Creating, Enabling, Updating, Disabling, Deleting) and tell the listeners (the poller
manager, `eventsources/manager.py`), which start or stop its poller and move it on to Enabled, Disabled or gone.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from firebox.aws_endpoints import AwsEndpoints, ServiceNotConfigured
from firebox.brokers import broker_address
from firebox.control.functions import FunctionService
from firebox.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from firebox.expressions.filters import RecordFilter
from firebox.models.mappings import EventSourceMapping, MappingState, SourceKind

MAX_ITEMS = 100
USER_INITIATED = "USER_INITIATED"
NO_RECORDS = "No records processed"

_STREAM_MEMBERS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
)
_KIND_MEMBERS: Mapping[SourceKind, frozenset[str]] = {
    SourceKind.SQS: frozenset({"ScalingConfig", "FunctionResponseTypes"}),
    SourceKind.KINESIS: frozenset({*_STREAM_MEMBERS, "FunctionResponseTypes"}),
    SourceKind.DYNAMODB: frozenset({*_STREAM_MEMBERS, "FunctionResponseTypes"}),
    SourceKind.MQ: frozenset({"Queues", "SourceAccessConfigurations"}),
}
"""Members beyond the common ones (BatchSize, MaximumBatchingWindowInSeconds, FilterCriteria, Enabled,
MetricsConfig, Tags) that a kind of source takes."""
_UNSUPPORTED = frozenset(
    {
        "Topics",
        "SelfManagedEventSource",
        "AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig",
        "DocumentDBEventSourceConfig",
        "ProvisionedPollerConfig",
        "KMSKeyArn",
        "LoggingConfig",
    }
)
_SERVICE = {
    SourceKind.SQS: "sqs",
    SourceKind.KINESIS: "kinesis",
    SourceKind.DYNAMODB: "dynamodbstreams",
}
_DEFAULT_BATCH = {SourceKind.SQS: 10, SourceKind.KINESIS: 100, SourceKind.DYNAMODB: 100, SourceKind.MQ: 100}
_MAX_BATCH = {SourceKind.SQS: 10_000, SourceKind.KINESIS: 10_000, SourceKind.DYNAMODB: 10_000, SourceKind.MQ: 10_000}


def source_kind(arn: str) -> SourceKind:
    """What an EventSourceArn points at; InvalidParameterValueException for anything Lambda cannot poll."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, resource = parts[2], parts[5]
        if service == "sqs" and resource:
            return SourceKind.SQS
        if service == "kinesis" and resource.startswith("stream/"):
            return SourceKind.KINESIS
        if service == "dynamodb" and "/stream/" in resource and resource.startswith("table/"):
            return SourceKind.DYNAMODB
        if service == "mq" and resource.startswith("broker:"):
            return SourceKind.MQ
    raise InvalidParameterValueException("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")


def _in_use(mapping: EventSourceMapping) -> str:
    return f"Cannot update the event source mapping {mapping.uuid} while it is {mapping.state.value}. Try again later."


def is_fifo(arn: str) -> bool:
    return arn.endswith(".fifo")


class MappingService:
    def __init__(self, functions: FunctionService, endpoints: AwsEndpoints, brokers: Mapping[str, str]) -> None:
        self.functions = functions
        self.store = functions.store
        self.endpoints = endpoints
        self.brokers = brokers
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """`listener(uuid)` after every write."""
        self._listeners.append(listener)

    def _changed(self, mapping_uuid: str) -> None:
        for listener in self._listeners:
            listener(mapping_uuid)

    def arn(self, mapping_uuid: str) -> str:
        settings = self.functions.settings
        return f"arn:aws:lambda:{settings.region}:{settings.account_id}:event-source-mapping:{mapping_uuid}"

    def document(self, mapping: EventSourceMapping) -> dict[str, Any]:
        """The EventSourceMappingConfiguration AWS returns for `mapping`."""
        params = dict(mapping.params)
        params.pop("Tags", None)
        doc: dict[str, Any] = {"UUID": mapping.uuid}
        for member in ("StartingPosition", "StartingPositionTimestamp", "BatchSize"):
            if member in params:
                doc[member] = params.pop(member)
        doc["MaximumBatchingWindowInSeconds"] = params.pop("MaximumBatchingWindowInSeconds", 0)
        if "ParallelizationFactor" in params:
            doc["ParallelizationFactor"] = params.pop("ParallelizationFactor")
        doc["EventSourceArn"] = mapping.source_arn
        doc.update({k: params.pop(k) for k in ("FilterCriteria",) if k in params})
        doc["FunctionArn"] = self.functions.arn(mapping.function_name, mapping.qualifier)
        doc["LastModified"] = mapping.modified
        if mapping.kind is not SourceKind.SQS:
            doc["LastProcessingResult"] = mapping.last_result
        doc["State"] = mapping.state.value
        doc["StateTransitionReason"] = mapping.state_reason
        doc.update(params)
        doc.setdefault("FunctionResponseTypes", [])
        doc["EventSourceMappingArn"] = self.arn(mapping.uuid)
        return doc

    # writes

    async def create(self, body: dict[str, Any]) -> EventSourceMapping:
        arn = body["EventSourceArn"] if body.get("EventSourceArn") else ""
        if not arn:
            raise InvalidParameterValueException("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        kind = source_kind(arn)
        params = self._params(kind, arn, body, creating=True)
        name, qualifier = self._function(body["FunctionName"])
        enabled = body.get("Enabled", True) is not False
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            function_name=name,
            qualifier=qualifier,
            source_arn=arn,
            kind=kind,
            state=MappingState.CREATING if enabled else MappingState.DISABLED,
            state_reason=USER_INITIATED,
            last_result=NO_RECORDS,
            modified=self.functions.clock.now(),
            params=params,
        )
        await self.functions.run(self._insert, mapping)
        self._changed(mapping.uuid)
        return mapping

    def _insert(self, mapping: EventSourceMapping) -> None:
        self._require_function(mapping.function_name, mapping.qualifier)
        for other in self.store.list_mappings(mapping.function_name, mapping.source_arn, None, MAX_ITEMS):
            if other.qualifier == mapping.qualifier:
                raise ResourceConflictException(self._duplicate(mapping, other.uuid))
        if not self.store.insert_mapping(mapping):
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(mapping.function_name)}")

    def _duplicate(self, mapping: EventSourceMapping, existing: str) -> str:
        function = self.functions.arn(mapping.function_name, mapping.qualifier)
        if mapping.kind is SourceKind.SQS:
            return (
                f'An event source mapping with SQS arn (" {mapping.source_arn} ") and function (" {function} ") '
                f"already exists. Please update or delete the existing mapping with UUID {existing}"
            )
        return (
            f"The event source arn ({mapping.source_arn}) and function ({function}) provided mapping already "
            f"exists. Please update or delete the existing mapping with UUID {existing}"
        )

    async def update(self, mapping_uuid: str, body: dict[str, Any]) -> EventSourceMapping:
        current = await self.get(mapping_uuid)
        params = self._params(current.kind, current.source_arn, {**current.params, **body}, creating=False)
        name, qualifier = current.function_name, current.qualifier
        if body.get("FunctionName"):
            name, qualifier = self._function(body["FunctionName"])
        enabled = current.enabled if body.get("Enabled") is None else bool(body["Enabled"])
        if current.state in (MappingState.DELETING, MappingState.CREATING, MappingState.UPDATING):
            raise ResourceInUseException(_in_use(current))
        if enabled:
            state = MappingState.UPDATING if current.enabled else MappingState.ENABLING
        else:
            state = MappingState.DISABLING if current.enabled else MappingState.DISABLED
        mapping = dataclasses.replace(
            current,
            function_name=name,
            qualifier=qualifier,
            state=state,
            state_reason=USER_INITIATED,
            modified=self.functions.clock.now(),
            params=params,
        )
        await self.functions.run(self._replace, mapping, current.state)
        self._changed(mapping.uuid)
        return mapping

    def _replace(self, mapping: EventSourceMapping, expected: MappingState) -> None:
        self._require_function(mapping.function_name, mapping.qualifier)
        if not self.store.replace_mapping(mapping, expected):
            raise ResourceInUseException(_in_use(mapping))

    async def delete(self, mapping_uuid: str) -> EventSourceMapping:
        current = await self.get(mapping_uuid)
        if current.state is MappingState.DELETING:
            return current
        mapping = dataclasses.replace(current, state=MappingState.DELETING, state_reason=USER_INITIATED)
        if not await self.functions.run(self.store.replace_mapping, mapping, current.state):
            raise ResourceInUseException(_in_use(current))
        self._changed(mapping.uuid)
        return mapping

    # reads

    async def get(self, mapping_uuid: str) -> EventSourceMapping:
        mapping = await self.functions.run(self.store.get_mapping, mapping_uuid)
        if mapping is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return mapping

    async def list(
        self, function: str | None, source_arn: str | None, after: str | None, limit: int | None
    ) -> tuple[list[EventSourceMapping], bool]:
        """A page of mappings (of one function and/or source when given) and whether more follow."""
        name = self.functions.resolve(function).name if function else None
        page = limit or MAX_ITEMS
        mappings = await self.functions.run(self.store.list_mappings, name, source_arn or None, after, page + 1)
        return mappings[:page], len(mappings) > page

    # checks

    def _function(self, text: str) -> tuple[str, str | None]:
        fid = self.functions.resolve(text)
        return fid.name, fid.qualifier

    def _require_function(self, name: str, qualifier: str | None) -> None:
        if self.store.get_function(name) is None:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name)}")
        if qualifier is not None and self.functions._config_for(name, qualifier) is None:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name, qualifier)}")

    def _params(self, kind: SourceKind, arn: str, body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        for member in _UNSUPPORTED:
            if body.get(member) is not None:
                raise InvalidParameterValueException(f"Unsupported {member} parameter for given event source.")
        allowed = _KIND_MEMBERS[kind]
        for member in set().union(*_KIND_MEMBERS.values()) - allowed:
            if body.get(member) is not None:
                raise InvalidParameterValueException(
                    f"Unsupported {member} parameter for given event source mapping type."
                )
        self._reachable(kind, arn)
        params: dict[str, Any] = {}
        batch = body.get("BatchSize") or _DEFAULT_BATCH[kind]
        window = body.get("MaximumBatchingWindowInSeconds")
        if kind is SourceKind.SQS:
            self._sqs(arn, batch, window, body, params)
        elif kind is SourceKind.MQ:
            self._mq(arn, body, params)
        else:
            self._stream(kind, body, params, creating)
        if batch > _MAX_BATCH[kind]:
            raise InvalidParameterValueException(
                f"BatchSize must be between 1 and {_MAX_BATCH[kind]} inclusive for this event source."
            )
        params["BatchSize"] = batch
        params["MaximumBatchingWindowInSeconds"] = window or 0
        if body.get("FilterCriteria") is not None:
            RecordFilter.from_criteria(body["FilterCriteria"]).check_kind(kind.value)  # AWS's error if bad
            params["FilterCriteria"] = body["FilterCriteria"]
        types = body.get("FunctionResponseTypes")
        if types:
            params["FunctionResponseTypes"] = list(types)
        for member in ("MetricsConfig", "Tags"):
            if body.get(member) is not None:
                params[member] = body[member]
        return params

    def _reachable(self, kind: SourceKind, arn: str) -> None:
        if kind is SourceKind.MQ:
            return  # checked with the mapping's SourceAccessConfigurations, in _mq
        service = _SERVICE[kind]
        if self.endpoints.url(service) is None:
            raise InvalidParameterValueException(str(ServiceNotConfigured(service)))

    @staticmethod
    def _sqs(arn: str, batch: int, window: int | None, body: Mapping[str, Any], params: dict[str, Any]) -> None:
        if is_fifo(arn) and batch > 10:
            raise InvalidParameterValueException("Batch size must be between 1 and 10 inclusive for FIFO queues.")
        if batch > 10 and not window:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
            )
        scaling = body.get("ScalingConfig")
        if scaling:
            params["ScalingConfig"] = dict(scaling)

    def _mq(self, arn: str, body: Mapping[str, Any], params: dict[str, Any]) -> None:
        queues = body.get("Queues")
        if not queues or len(queues) != 1:
            raise InvalidParameterValueException("Queues must contain exactly one queue name for Amazon MQ.")
        params["Queues"] = list(queues)
        access = body.get("SourceAccessConfigurations") or []
        for entry in access:
            if entry.get("Type") not in ("BASIC_AUTH", "VIRTUAL_HOST"):
                raise InvalidParameterValueException(
                    f"Unsupported SourceAccessConfigurations type {entry.get('Type')} for Amazon MQ."
                )
        params["SourceAccessConfigurations"] = [dict(entry) for entry in access]
        broker_address(arn, params, self.brokers)  # a broker Firebox knows, and credentials it can stand in for

    @staticmethod
    def _stream(kind: SourceKind, body: Mapping[str, Any], params: dict[str, Any], creating: bool) -> None:
        position = body.get("StartingPosition")
        if creating and position is None:
            raise InvalidParameterValueException("StartingPosition is required for stream event sources.")
        if position is not None:
            params["StartingPosition"] = position
        if position == "AT_TIMESTAMP":
            if kind is SourceKind.DYNAMODB:
                raise InvalidParameterValueException(
                    "Unsupported starting position AT_TIMESTAMP for DynamoDB stream event sources."
                )
            if body.get("StartingPositionTimestamp") is None:
                raise InvalidParameterValueException(
                    "StartingPositionTimestamp must be provided when StartingPosition is AT_TIMESTAMP."
                )
            params["StartingPositionTimestamp"] = body["StartingPositionTimestamp"]
        params["ParallelizationFactor"] = body.get("ParallelizationFactor") or 1
        age = body.get("MaximumRecordAgeInSeconds")
        if age is not None and age != -1 and age < 60:
            raise InvalidParameterValueException(
                "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800 seconds."
            )
        params["MaximumRecordAgeInSeconds"] = -1 if age is None else age
        retries = body.get("MaximumRetryAttempts")
        params["MaximumRetryAttempts"] = -1 if retries is None else retries
        params["BisectBatchOnFunctionError"] = bool(body.get("BisectBatchOnFunctionError", False))
        params["TumblingWindowInSeconds"] = body.get("TumblingWindowInSeconds") or 0
        destination = body.get("DestinationConfig")
        if destination:
            target = (destination.get("OnFailure") or {}).get("Destination") or ""
            if target and not target.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
                raise InvalidParameterValueException(
                    "The destination ARN must be an Amazon SQS queue or an Amazon SNS topic for stream event sources."
                )
            params["DestinationConfig"] = {"OnSuccess": {}, "OnFailure": {"Destination": target} if target else {}}
