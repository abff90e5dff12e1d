"""Event source mappings: a poller's standing order to read a queue, stream or broker and invoke a function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MappingState(StrEnum):
    """AWS's states of a mapping. Creating/Enabling/Updating/Disabling/Deleting are transient: the manager moves a
    mapping out of them as soon as its poller has started or stopped."""

    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


class SourceKind(StrEnum):
    """What a mapping reads, from its EventSourceArn's service."""

    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"  # a DynamoDB stream (arn:aws:dynamodb:...:table/T/stream/LABEL)
    MQ = "mq"  # an Amazon MQ (RabbitMQ) broker


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    uuid: str
    function_name: str
    qualifier: str | None
    """The version or alias the mapping invokes, None for `$LATEST` (the unqualified function)."""
    source_arn: str
    kind: SourceKind
    state: MappingState
    state_reason: str
    """StateTransitionReason: "USER_INITIATED", "USER_INITIATED", or what a poller last reported."""
    last_result: str
    """LastProcessingResult: "No records processed", "OK", "PROBLEM: ..."."""
    modified: float
    params: Mapping[str, Any]
    """Everything else, under AWS's member names and with AWS's defaults filled in: BatchSize,
    MaximumBatchingWindowInSeconds, StartingPosition, StartingPositionTimestamp, ParallelizationFactor,
    FilterCriteria, DestinationConfig, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError,
    MaximumRetryAttempts, TumblingWindowInSeconds, FunctionResponseTypes, ScalingConfig, Queues,
    SourceAccessConfigurations, MetricsConfig, Tags (absent members are absent)."""

    @property
    def enabled(self) -> bool:
        return self.state in (MappingState.CREATING, MappingState.ENABLING, MappingState.ENABLED, MappingState.UPDATING)

    @property
    def batch_size(self) -> int:
        return int(self.params["BatchSize"])

    @property
    def batching_window(self) -> float:
        return float(self.params.get("MaximumBatchingWindowInSeconds", 0))

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.params.get("FunctionResponseTypes", ())


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far a stream poller has got in one shard (or a RabbitMQ poller in anything it needs to keep): the last
    sequence number whose record was processed, and the poller's own state (a tumbling window's, a retry count)."""

    mapping_uuid: str
    shard_id: str
    sequence_number: str | None
    state: Mapping[str, Any]
    updated: float
