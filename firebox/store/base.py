"""The store interfaces. Callers depend on these protocols only, so another engine (PostgreSQL for clusters) can
stand in for SQLite without changing them.

Every method is blocking and thread-safe; the control plane calls them from its worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from firebox.models.asynchronous import AsyncEvent, Delivery, EventInvokeConfig
from firebox.models.function import AccountUsage, Alias, CodeArchive, Function, FunctionConfig, LayerVersion
from firebox.models.logs import EventRange, LogEvent, LogGroup, LogStream, Position, StoredEvent
from firebox.models.mappings import Checkpoint, EventSourceMapping, MappingState
from firebox.models.metrics import Dimensions, MetricPoint, SeriesKey, Stat
from firebox.models.urls import FunctionUrlConfig

UsageRow = tuple[str, str, str, int, int, int, int, int]
"""(month, function, version, requests, billed ms, duration MB·ms, ephemeral MB·ms, provisioned MB·ms)"""


class FunctionStore(Protocol):
    def insert_function(self, config: FunctionConfig, tags: Mapping[str, str], created_at: float) -> bool:
        """Add a new function with `config` as its `$LATEST`. False if the name is taken."""
        ...

    def get_function(self, name: str) -> Function | None: ...

    def get_config(self, name: str, version: str) -> FunctionConfig | None: ...

    def replace_config(self, config: FunctionConfig, expected_revision: str) -> bool:
        """Store `config` in place of the version whose RevisionId is `expected_revision` (compare-and-set).

        False if the version is gone or its RevisionId moved on."""
        ...

    def list_configs(self, after: str | None, limit: int) -> list[FunctionConfig]:
        """`$LATEST` of each function, by name, starting after the name `after`."""
        ...

    def delete_function(self, name: str) -> list[str] | None:
        """Delete the function and all its versions. Returns the code sha256s it used, None if it did not exist."""
        ...

    def update_tags(self, name: str, set_tags: Mapping[str, str], remove_keys: Iterable[str]) -> bool:
        """Merge `set_tags` and drop `remove_keys`. False if the function does not exist."""
        ...

    def settling_configs(self) -> list[FunctionConfig]:
        """Every version still Pending or with an update InProgress (to finish after a restart)."""
        ...

    def account_usage(self) -> AccountUsage: ...

    def set_reserved_concurrency(
        self, name: str, reserved: int | None, account_limit: int, minimum_unreserved: int
    ) -> str:
        """Set (None: remove) a function's reserved concurrency, in one transaction with the account-wide rule that
        at least `minimum_unreserved` executions stay unreserved. Returns "ok", "missing" or "too-much"."""
        ...


class VersionStore(Protocol):
    def publish_version(self, name: str, expected_latest_revision: str, latest_revision: str) -> FunctionConfig | None:
        """Snapshot `$LATEST` as the next version number (never reused) and give `$LATEST` the RevisionId
        `latest_revision`. None if `$LATEST`'s RevisionId is no longer `expected_latest_revision`."""
        ...

    def newest_version(self, name: str) -> FunctionConfig | None:
        """The highest-numbered published version."""
        ...

    def list_versions(self, name: str, after: int, limit: int) -> list[FunctionConfig]:
        """`$LATEST` (number 0) and the published versions in ascending order, numbered above `after`."""
        ...

    def list_all_configs(self, after: tuple[str, int] | None, limit: int) -> list[FunctionConfig]:
        """Every version of every function, by name then number, after (name, number)."""
        ...

    def delete_version(self, name: str, version: str) -> str | None:
        """Delete one published version; its code sha256, or None if it did not exist."""
        ...


class AliasStore(Protocol):
    def insert_alias(self, alias: Alias) -> bool: ...

    def get_alias(self, function_name: str, name: str) -> Alias | None: ...

    def replace_alias(self, alias: Alias, expected_revision: str) -> bool: ...

    def delete_alias(self, function_name: str, name: str) -> bool: ...

    def list_aliases(self, function_name: str, version: str | None, after: str | None, limit: int) -> list[Alias]: ...

    def aliases_of_version(self, function_name: str, version: str) -> list[str]:
        """Names of the aliases that route any share of invocations to `version`."""
        ...


class LayerStore(Protocol):
    def publish_layer_version(self, layer: LayerVersion) -> LayerVersion:
        """Store under the layer's next version number (never reused); returns it with that number."""
        ...

    def get_layer_version(self, name: str, version: int) -> LayerVersion | None: ...

    def list_layer_versions(self, name: str, before: int | None, limit: int) -> list[LayerVersion]:
        """Newest first, numbered below `before`."""
        ...

    def list_layer_names(self, after: str | None, limit: int) -> list[str]: ...

    def delete_layer_version(self, name: str, version: int) -> str | None:
        """Its code sha256, or None if it did not exist."""
        ...


class PolicyStore(Protocol):
    def get_policy(self, function_name: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        """Statements and RevisionId of the policy of a function ('' qualifier) or of one qualifier."""
        ...

    def put_policy(
        self,
        function_name: str,
        qualifier: str,
        statements: list[dict[str, Any]],
        revision_id: str,
        expected_revision: str | None,
    ) -> bool:
        """Compare-and-set on the policy's RevisionId (None: no policy yet); no statements deletes it."""
        ...


class AsyncStore(Protocol):
    """The durable queue of Event invocations and their per-qualifier configuration."""

    def enqueue_events(self, events: Sequence[AsyncEvent]) -> None:
        """Commit events (one transaction for the whole batch: group commit)."""
        ...

    def lease_events(self, now: float, lease_until: float, limit: int) -> list[AsyncEvent]:
        """Take up to `limit` waiting events that are due, holding them until `lease_until`."""
        ...

    def finish_event(self, event_id: int) -> None: ...

    def requeue_event(self, event_id: int, not_before: float, attempts: int) -> None: ...

    def release_leases(self) -> int: ...

    def next_event_due(self) -> float | None: ...

    def queue_statistics(self, function_name: str) -> dict[str, int]: ...

    def async_totals(self) -> dict[str, int]: ...

    def add_delivery(self, delivery: Delivery) -> None: ...

    def lease_deliveries(self, now: float, lease_until: float, limit: int) -> list[Delivery]: ...

    def finish_delivery(self, delivery_id: int) -> None: ...

    def retry_delivery(self, delivery_id: int, not_before: float, attempts: int, error: str) -> None: ...

    def release_delivery_leases(self) -> int: ...

    def get_event_invoke_config(self, function_name: str, qualifier: str) -> EventInvokeConfig | None: ...

    def put_event_invoke_config(self, function_name: str, qualifier: str, config: EventInvokeConfig) -> None: ...

    def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool: ...

    def list_event_invoke_configs(self, function_name: str) -> list[tuple[str, EventInvokeConfig]]: ...


class ProvisionedStore(Protocol):
    def put_provisioned(self, function_name: str, qualifier: str, requested: int, last_modified: float) -> None: ...

    def delete_provisioned(self, function_name: str, qualifier: str) -> bool: ...

    def list_provisioned(self, function_name: str | None = None) -> list[tuple[str, str, int, float]]:
        """(function, qualifier, requested, last modified) of one function, or of all."""
        ...


class FunctionUrlStore(Protocol):
    def insert_function_url(self, config: FunctionUrlConfig) -> bool:
        """False if the function (or alias) already has a URL."""
        ...

    def replace_function_url(self, config: FunctionUrlConfig) -> bool: ...

    def delete_function_url(self, function_name: str, qualifier: str | None) -> bool: ...

    def get_function_url(self, function_name: str, qualifier: str | None) -> FunctionUrlConfig | None: ...

    def function_url_by_id(self, url_id: str) -> FunctionUrlConfig | None: ...

    def list_function_urls(self, function_name: str, after: str | None, limit: int) -> list[FunctionUrlConfig]:
        """The function's URLs by qualifier (`$LATEST`'s first), starting after the qualifier `after`."""
        ...


class GatewayStore(Protocol):
    """API Gateway APIs (kind `HTTP` or `REST`) and their parts (routes, integrations, stages, ...), as JSON
    documents the control plane shapes."""

    def put_gateway_api(self, api_id: str, kind: str, doc: dict[str, Any], created: float) -> None:
        """Insert, or replace the document of, an API."""
        ...

    def get_gateway_api(self, api_id: str) -> tuple[str, dict[str, Any]] | None:
        """(kind, document), or None."""
        ...

    def list_gateway_apis(self, kind: str) -> list[dict[str, Any]]:
        """The documents of every API of `kind`, oldest first."""
        ...

    def delete_gateway_api(self, api_id: str) -> bool:
        """Delete the API and all its parts."""
        ...

    def put_gateway_part(self, api_id: str, kind: str, part_id: str, doc: dict[str, Any]) -> bool:
        """Insert or replace a part; False if the API does not exist."""
        ...

    def get_gateway_part(self, api_id: str, kind: str, part_id: str) -> dict[str, Any] | None: ...

    def list_gateway_parts(self, api_id: str, kind: str) -> list[dict[str, Any]]:
        """The API's parts of `kind`, in the order they were first written."""
        ...

    def delete_gateway_part(self, api_id: str, kind: str, part_id: str) -> bool: ...


class MappingStore(Protocol):
    """Event source mappings and the checkpoints their pollers keep (one per shard, or per whatever a poller
    needs to resume from)."""

    def insert_mapping(self, mapping: EventSourceMapping) -> bool:
        """False if the function does not exist (any more)."""
        ...

    def replace_mapping(self, mapping: EventSourceMapping, expected_state: MappingState | None = None) -> bool:
        """Store `mapping` over the one with its UUID; with `expected_state`, only if it is still in that state."""
        ...

    def set_mapping_result(self, uuid: str, last_result: str) -> None: ...

    def delete_mapping(self, uuid: str) -> bool: ...

    def get_mapping(self, uuid: str) -> EventSourceMapping | None: ...

    def list_mappings(
        self, function_name: str | None, source_arn: str | None, after: str | None, limit: int
    ) -> list[EventSourceMapping]:
        """Mappings by UUID, of one function and/or one source when given, starting after the UUID `after`."""
        ...

    def all_mappings(self) -> list[EventSourceMapping]: ...

    def get_checkpoints(self, mapping_uuid: str) -> dict[str, Checkpoint]:
        """The mapping's checkpoints by shard id."""
        ...

    def put_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Write (or overwrite) one shard's checkpoint; False if the mapping is gone. Durable when it returns."""
        ...


class EventRetry(NamedTuple):
    """A delivery of an EventBridge event to a rule's target that failed and waits for another try."""

    id: int | None
    rule_arn: str
    target: dict[str, Any]
    """The target document as it was when the event matched."""
    event: dict[str, Any]
    payload: bytes
    """What the target is sent: the event, or what Input, InputPath or InputTransformer made of it."""
    attempts: int
    first_at: float
    not_before: float
    last_error: str


class EventStore(Protocol):
    """EventBridge: event buses, their rules and the rules' targets, as JSON documents in AWS's shapes (the control
    plane owns them); the last tick of each scheduled rule; deliveries to targets waiting to be retried."""

    def create_event_bus(self, name: str, doc: dict[str, Any], now: float) -> bool:
        """False if a bus of that name exists."""
        ...

    def get_event_bus(self, name: str) -> dict[str, Any] | None:
        """The bus's document with its Name, CreationTime and LastModifiedTime (epoch seconds)."""
        ...

    def list_event_buses(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]: ...

    def count_event_buses(self) -> int: ...

    def delete_event_bus(self, name: str) -> bool | None:
        """True once deleted; False if it still has rules (it is kept); None if there is no such bus."""
        ...

    def put_event_rule(self, bus: str, name: str, doc: dict[str, Any], limit: int) -> bool | None:
        """Create or replace a rule, keeping its targets. None if the bus does not exist; False if creating it
        would give the bus more than `limit` rules."""
        ...

    def get_event_rule(self, bus: str, name: str) -> dict[str, Any] | None: ...

    def list_event_rules(self, bus: str, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]: ...

    def all_event_rules(self) -> list[tuple[str, dict[str, Any]]]:
        """(bus, rule document) of every rule."""
        ...

    def delete_event_rule(self, bus: str, name: str) -> bool | None:
        """True once deleted; False if it still has targets (it is kept); None if there is no such rule."""
        ...

    def put_event_targets(self, bus: str, rule: str, targets: Sequence[dict[str, Any]], limit: int) -> bool | None:
        """Add or replace targets by Id. None if the rule does not exist; False (nothing written) if the rule would
        have more than `limit` targets."""
        ...

    def remove_event_targets(self, bus: str, rule: str, ids: Sequence[str]) -> list[str] | None:
        """The ids removed (those the rule had); None if the rule does not exist."""
        ...

    def list_event_targets(self, bus: str, rule: str) -> list[dict[str, Any]] | None: ...

    def event_targets_of_bus(self, bus: str) -> dict[str, list[dict[str, Any]]]:
        """Every target of the bus's rules, by rule name, in the order they were added."""
        ...

    def event_rules_by_target(self, bus: str, arn: str, after: str | None, limit: int) -> list[str]: ...

    def get_event_timer(self, key: str) -> float | None:
        """When a scheduled rule's timer last fired (epoch seconds); None if never."""
        ...

    def set_event_timer(self, key: str, last_fired: float) -> None: ...

    def add_event_retry(self, retry: EventRetry) -> None: ...

    def lease_event_retries(self, now: float, lease_until: float, limit: int) -> list[EventRetry]: ...

    def next_event_retry_due(self) -> float | None: ...

    def retry_event_later(self, retry_id: int, not_before: float, attempts: int, error: str) -> None: ...

    def finish_event_retry(self, retry_id: int) -> None: ...

    def release_event_retry_leases(self) -> int: ...


class CodeArchiveStore(Protocol):
    def get_code_archive(self, sha256: str) -> CodeArchive | None: ...

    def put_code_archive(self, archive: CodeArchive, created_at: float) -> None: ...

    def code_in_use(self, sha256: str) -> bool: ...

    def delete_code_archive(self, sha256: str) -> None: ...


class LogStore(Protocol):
    def append_log_events(self, events: Sequence[LogEvent]) -> None:
        """Append events; an event's message may hold several lines written together (read back one per line)."""
        ...

    def log_events(self, log_group: str, log_stream: str | None, limit: int) -> list[LogEvent]:
        """The last `limit` events of a group (or of one stream), oldest first."""
        ...

    def put_log_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> str:
        """Store (timestamp, message) events whole; 'ok', 'no group' or 'no stream'."""
        ...

    def create_log_group(self, name: str) -> bool: ...

    def log_group(self, name: str) -> LogGroup | None: ...

    def log_groups(self, prefix: str, after: str | None, limit: int) -> list[LogGroup]: ...

    def set_log_retention(self, name: str, days: int | None) -> bool: ...

    def delete_log_group(self, name: str) -> bool: ...

    def create_log_stream(self, group: str, name: str) -> str: ...

    def log_streams(
        self, group: str, prefix: str, by_last_event: bool, descending: bool, offset: int, limit: int
    ) -> list[LogStream]: ...

    def log_stream_exists(self, group: str, name: str) -> bool: ...

    def read_forward(self, where: EventRange, after: Position | None, limit: int) -> list[StoredEvent]: ...

    def read_backward(self, where: EventRange, before: Position | None, limit: int) -> list[StoredEvent]: ...

    def filter_events(
        self, where: EventRange, after: Position | None, matches: Callable[[str], bool], limit: int, scan_blocks: int
    ) -> tuple[list[StoredEvent], Position | None]: ...

    def sweep_logs(self, max_bytes: int) -> int:
        """Apply groups' retention and the `max_bytes` bound; returns the blocks deleted."""
        ...


class MetricStore(Protocol):
    """Metric series and their per-period points (merged on write, rolled up by `compact_metrics`)."""

    def merge_metric_points(self, points: Sequence[MetricPoint]) -> None: ...

    def compact_metrics(self, now: float) -> int: ...

    def metric_series(
        self, namespace: str, metric_name: str, dimensions: Dimensions, unit: str | None
    ) -> list[tuple[int, SeriesKey]]: ...

    def metric_points(self, series_ids: Iterable[int], start: int, end: int) -> list[tuple[int, int, Stat]]: ...

    def list_metric_series(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimension_filter: Sequence[tuple[str, str | None]],
        after: int,
        limit: int,
        since: int,
    ) -> list[tuple[int, str, str, Dimensions]]: ...


class LedgerStore(Protocol):
    """The metering ledger's usage sums, and the provisioned configurations it accrues for."""

    def add_usage(self, rows: Sequence[UsageRow]) -> None: ...

    def usage(self, month: str) -> list[UsageRow]: ...

    def list_provisioned(self, function_name: str | None = None) -> list[tuple[str, str, int, float]]: ...

    def get_alias(self, function_name: str, name: str) -> Alias | None: ...

    def get_config(self, name: str, version: str) -> FunctionConfig | None: ...


class Store(
    FunctionStore,
    VersionStore,
    AliasStore,
    LayerStore,
    PolicyStore,
    ProvisionedStore,
    FunctionUrlStore,
    GatewayStore,
    MappingStore,
    EventStore,
    AsyncStore,
    CodeArchiveStore,
    LogStore,
    MetricStore,
    LedgerStore,
    Protocol,
):
    def health(self) -> dict[str, Any]:
        """A small document for `/health`: engine, schema version, whether a query answers."""
        ...

    def close(self) -> None: ...


class ScheduleStore(Protocol):
    """EventBridge Scheduler: schedule groups (`default` always exists) and their schedules, as documents in AWS's
    GetSchedule shape (the control plane owns them), with the last tick each schedule fired (the runner's)."""

    def create_schedule_group(self, name: str, tags: Mapping[str, str], now: float) -> bool:
        """False if a group of that name exists."""
        ...

    def get_schedule_group(self, name: str) -> dict[str, Any] | None:
        """Name, CreationDate, LastModificationDate (epoch seconds) and Tags (a dict)."""
        ...

    def list_schedule_groups(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]: ...

    def delete_schedule_group(self, name: str) -> list[str] | None:
        """Delete the group and its schedules: the names of those schedules, None if there is no such group."""
        ...

    def tag_schedule_group(self, name: str, set_tags: Mapping[str, str], remove_keys: Iterable[str]) -> bool: ...

    def insert_schedule(self, doc: Mapping[str, Any]) -> bool | None:
        """False if the name is taken in its group, None if the group does not exist."""
        ...

    def replace_schedule(self, doc: Mapping[str, Any]) -> bool:
        """Keeps the last fired tick; False if the schedule is gone."""
        ...

    def get_schedule(self, group: str, name: str) -> tuple[dict[str, Any], float | None] | None:
        """The document and the last tick fired."""
        ...

    def list_schedules(
        self, group: str | None, prefix: str, state: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]: ...

    def all_schedules(self) -> list[tuple[dict[str, Any], float | None]]: ...

    def delete_schedule(self, group: str, name: str, modified: float | None = None) -> bool:
        """With `modified`, only if the schedule's LastModificationDate is still that."""
        ...

    def set_schedule_fired(self, group: str, name: str, tick: float) -> bool:
        """Never moves the last fired tick back; False if the schedule is gone."""
        ...
