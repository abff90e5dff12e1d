"""The ordered shard machinery the Kinesis and DynamoDB Streams pollers share (`kinesis.py`, `dynamodb_streams.py`
give it their API calls and event shapes as a `StreamSource`).

    StreamPoller.run   list the shards every DISCOVERY_INTERVAL (and whenever a shard ends); start a ShardReader for
                       each shard not finished whose parents are finished (or gone), so a parent is always read to
                       its end before its children
    ShardReader        one ordered reader per shard: GetRecords from the checkpoint (AFTER_SEQUENCE_NUMBER) or,
                       where none exists, from StartingPosition; filtered-out records settle at once, the others go
                       to a Lane by their partition key (ParallelizationFactor lanes; one with tumbling windows)
    Lane               (`stream_lanes.py`) gathers a batch, invokes, and settles it: success, a partial batch
                       response, bisection, retries and record age; what it gives up on goes to the on-failure
                       destination (`stream_failures.py`)
    settle             the shard's checkpoint moves to the last record before which everything is settled, and is
                       written durably before the lane goes on, so a restart repeats records but never skips one

A checkpoint's state holds what else the reader must resume with: `started` (the time a LATEST start was resolved,
so records that arrive while the server is down are not skipped), `window` (a tumbling window's start and the
function's state) and `finished` (the shard was read to its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from botocore.exceptions import ClientError

from firebox.errors import FireboxError
from firebox.eventsources.poller import PollerContext
from firebox.eventsources.stream_failures import ERROR_PAUSE, SOURCE_ERRORS, FailureDestination, error_text
from firebox.eventsources.stream_lanes import PAYLOAD_LIMIT, Lane, lane_of
from firebox.expressions.filters import RecordFilter
from firebox.models.mappings import Checkpoint, EventSourceMapping

log = logging.getLogger("firebox.eventsources.streams")

DISCOVERY_INTERVAL = 10.0
EXPIRED_CODES = frozenset({"ExpiredIteratorException"})
TRIMMED_CODES = frozenset({"TrimmedDataAccessException", "InvalidArgumentException"})


@dataclass(frozen=True, slots=True)
class StreamRecord:
    sequence: str
    partition_key: str
    """What orders records across lanes: the Kinesis partition key, the DynamoDB item's keys."""
    arrival: float
    """Epoch seconds the record reached the stream (ApproximateArrivalTimestamp, ApproximateCreationDateTime)."""
    event: dict[str, Any]
    """The record as the function sees it in `Records`."""
    size: int

    @property
    def number(self) -> int:
        return int(self.sequence)


@dataclass(frozen=True, slots=True)
class Shard:
    shard_id: str
    parents: tuple[str, ...]
    ending: str | None
    """EndingSequenceNumber: set once the shard is closed (split, merged, or rolled over)."""


@dataclass(frozen=True, slots=True)
class Position:
    kind: str
    """TRIM_HORIZON, LATEST, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP."""
    sequence: str | None = None
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class Page:
    records: list[StreamRecord]
    next_iterator: str | None
    """None once a closed shard has been read to its end."""
    behind_ms: int | None = None


class StreamSource(Protocol):
    kind: str
    """The records' kind for filters and texts: `kinesis` or `dynamodb`."""
    batch_info: str
    """The member of the on-failure record that describes the batch (KinesisBatchInfo, DDBStreamBatchInfo)."""
    poll_interval: float
    """Seconds between reads of a shard that had nothing new."""
    seeks_timestamps: bool
    """Whether iterators can start AT_TIMESTAMP; if not, the reader reads from TRIM_HORIZON and skips older ones."""
    role: str
    """The function's execution role (Kinesis records carry it as invokeIdentityArn); the poller keeps it current."""

    async def shards(self) -> list[Shard]: ...

    async def iterator(self, shard_id: str, position: Position) -> str: ...

    async def read(self, shard_id: str, iterator: str) -> Page: ...

    def arrival_text(self, seconds: float) -> str:
        """An arrival time as the on-failure record writes it."""
        ...


class ServiceSource:
    """What the Kinesis and DynamoDB Streams sources share: the stream, its region, the read limit a mapping's
    batches need, and calls to `service` through the context's clients."""

    service: str
    read_limit: int
    """The service's largest GetRecords Limit."""

    def __init__(self, mapping: EventSourceMapping, context: PollerContext) -> None:
        self.context = context
        self.arn = mapping.source_arn
        self.region = self.arn.split(":")[3]
        self.role = ""
        lanes = int(mapping.params.get("ParallelizationFactor") or 1)
        self.limit = min(self.read_limit, max(100, mapping.batch_size * lanes))

    async def _call(self, operation: str, **params: Any) -> Any:
        return await self.context.clients.call(self.service, self.region, operation, **params)


def _code(exc: Exception) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def starting_timestamp(value: Any) -> float:
    """StartingPositionTimestamp as stored: epoch seconds (what the SDKs send) or an ISO-8601 text."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Tracker:
    """The records of a shard read and not yet settled, in stream order; the frontier is the last record before which
    every record is settled (what the checkpoint may say)."""

    def __init__(self, frontier: str | None) -> None:
        self.frontier = frontier
        self._order: deque[StreamRecord] = deque()
        self._settled: set[int] = set()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._order)

    def add(self, record: StreamRecord) -> None:
        self._order.append(record)
        self.bytes += record.size

    def settle(self, records: Sequence[StreamRecord]) -> bool:
        """Mark `records` settled; True if the frontier moved."""
        self._settled.update(record.number for record in records)
        moved = False
        while self._order and self._order[0].number in self._settled:
            record = self._order.popleft()
            self._settled.discard(record.number)
            self.bytes -= record.size
            self.frontier = record.sequence
            moved = True
        return moved


def ready_shards(shards: Sequence[Shard], finished: set[str], running: set[str]) -> list[Shard]:
    """The shards to start reading: not finished, not being read, and every parent finished or no longer listed."""
    listed = {shard.shard_id for shard in shards}
    return [
        shard
        for shard in shards
        if shard.shard_id not in finished
        and shard.shard_id not in running
        and all(parent in finished or parent not in listed for parent in shard.parents)
    ]


class StreamPoller:
    """One mapping's poller of a Kinesis or DynamoDB stream."""

    def __init__(self, mapping: EventSourceMapping, context: PollerContext, source: StreamSource) -> None:
        self.mapping = mapping
        self.context = context
        self.source = source
        params = mapping.params
        self.filter = RecordFilter.from_criteria(params.get("FilterCriteria"))
        self.tumbling = int(params.get("TumblingWindowInSeconds") or 0)
        self.lanes = 1 if self.tumbling else max(1, int(params.get("ParallelizationFactor") or 1))
        self.max_retries = int(params.get("MaximumRetryAttempts", -1))
        self.max_age = int(params.get("MaximumRecordAgeInSeconds", -1))
        self.bisect = bool(params.get("BisectBatchOnFunctionError"))
        on_failure = (params.get("DestinationConfig") or {}).get("OnFailure") or {}
        self.destination = str(on_failure.get("Destination") or "")
        self.checkpoints: dict[str, Checkpoint] = {}
        self.listed: dict[str, Shard] = {}
        self.readers: dict[str, asyncio.Task[None]] = {}
        self.wake = asyncio.Event()
        self.function_arn = ""
        self.failures = FailureDestination(self)

    async def run(self) -> None:
        try:
            self.checkpoints = await self.context.run(self.context.store.get_checkpoints, self.mapping.uuid)
            while True:
                await self._discover()
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), DISCOVERY_INTERVAL * self.context.interval_scale)
        finally:
            for task in self.readers.values():
                task.cancel()
            await asyncio.gather(*self.readers.values(), return_exceptions=True)

    async def _discover(self) -> None:
        await self._identity()
        try:
            shards = await self.source.shards()
        except SOURCE_ERRORS as exc:
            self.problem(f"Error occurred while listing the shards of {self.mapping.source_arn}: {error_text(exc)}")
            await self.context.pause(ERROR_PAUSE)
            return
        self.listed = {shard.shard_id: shard for shard in shards}
        finished = {shard for shard, checkpoint in self.checkpoints.items() if checkpoint.state.get("finished")}
        running = {shard for shard, task in self.readers.items() if not task.done()}
        for shard in ready_shards(shards, finished, running):
            reader = ShardReader(self, shard)
            task = asyncio.get_running_loop().create_task(reader.run(), name=f"read {shard.shard_id}")
            task.add_done_callback(self._reader_done)
            self.readers[shard.shard_id] = task

    def _reader_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the reader of a shard of %s stopped", self.mapping.source_arn, exc_info=task.exception())
            self.problem("Internal error while reading a shard; it is read again from its checkpoint")
        self.wake.set()

    async def _identity(self) -> None:
        router = self.context.router
        try:
            ref = router.resolve(self.mapping.function_name, self.mapping.qualifier)
            self.function_arn = ref.arn
            self.source.role = (await router.configuration(ref)).role
        except FireboxError as exc:  # gone or not active: its invocations report it; the ARN and role wait
            log.info("no identity yet for the function of mapping %s: %s", self.mapping.uuid, exc.message)

    def shard(self, shard_id: str) -> Shard | None:
        return self.listed.get(shard_id)

    def problem(self, text: str) -> None:
        self.context.report(self.mapping, f"PROBLEM: {text}")

    def start_of(self, shard: Shard) -> tuple[Position, float | None]:
        """Where a shard with no checkpoint starts, and the `started` time to keep: from the start of its own
        history if a parent was read (TRIM_HORIZON), from the parents' LATEST start if they never had records, else
        from the mapping's StartingPosition."""
        parents = [self.checkpoints[p] for p in shard.parents if p in self.checkpoints]
        if parents:
            starts = [cp.state.get("started") for cp in parents if cp.sequence_number is None]
            if len(starts) == len(parents) and all(isinstance(start, int | float) for start in starts):
                started = max(float(start) for start in starts if start is not None)
                return Position("AT_TIMESTAMP", timestamp=started), started
            return Position("TRIM_HORIZON"), None
        position = str(self.mapping.params.get("StartingPosition") or "TRIM_HORIZON")
        if position == "LATEST":
            return Position("LATEST"), time.time() - 1.0
        if position == "AT_TIMESTAMP":
            timestamp = starting_timestamp(self.mapping.params["StartingPositionTimestamp"])
            return Position("AT_TIMESTAMP", timestamp=timestamp), None
        return Position("TRIM_HORIZON"), None

    async def save(self, checkpoint: Checkpoint) -> None:
        await self.context.run(self.context.store.put_checkpoint, checkpoint)
        self.checkpoints[checkpoint.shard_id] = checkpoint


class ShardReader:
    """Reads one shard in order and hands its records to the lanes; keeps the shard's checkpoint."""

    def __init__(self, poller: StreamPoller, shard: Shard) -> None:
        self.poller = poller
        self.shard_id = shard.shard_id
        checkpoint = poller.checkpoints.get(shard.shard_id)
        self.checkpoint = checkpoint
        self.tracker = Tracker(checkpoint.sequence_number if checkpoint else None)
        state = checkpoint.state if checkpoint else {}
        started = state.get("started")
        self.started: float | None = float(started) if isinstance(started, int | float) else None
        self.last_read: str | None = None
        self.skip_before: float | None = None
        self.lanes = [Lane(self, index, state.get("window") if index == 0 else None) for index in range(poller.lanes)]
        self.room = asyncio.Event()
        self.lock = asyncio.Lock()
        self.written: tuple[str | None, bytes] | None = None
        batch = poller.mapping.batch_size
        self.max_records = max(2 * batch * poller.lanes, 500)

    async def run(self) -> None:
        tasks = [asyncio.get_running_loop().create_task(lane.run(), name=f"lane {lane.index}") for lane in self.lanes]
        try:
            await self._read()
            for lane in self.lanes:
                lane.end()
            await asyncio.gather(*tasks)
            await self.save(finished=True)
            self.poller.wake.set()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _first_position(self) -> Position:
        if self.tracker.frontier is not None:
            return Position("AFTER_SEQUENCE_NUMBER", self.tracker.frontier)
        if self.started is not None:
            return Position("AT_TIMESTAMP", timestamp=self.started)
        if self.checkpoint is not None:
            return Position("TRIM_HORIZON")
        shard = self.poller.shard(self.shard_id) or Shard(self.shard_id, (), None)
        position, self.started = self.poller.start_of(shard)
        if self.started is not None:
            await self.save()  # durable before the first read: a restart resumes from this time, not from LATEST
        return position

    async def _open(self, first: bool) -> str:
        position = await self._first_position() if first else self._resume_position()
        while True:
            if position.kind == "AT_TIMESTAMP" and not self.poller.source.seeks_timestamps:
                self.skip_before = position.timestamp
                position = Position("TRIM_HORIZON")
            try:
                return await self.poller.source.iterator(self.shard_id, position)
            except SOURCE_ERRORS as exc:
                if position.kind == "AFTER_SEQUENCE_NUMBER" and _code(exc) in TRIMMED_CODES:
                    log.warning("%s: %s is past the trim horizon, reading from there", self.shard_id, position.sequence)
                    position = Position("TRIM_HORIZON")
                    continue
                self.poller.problem(f"Error occurred while GetShardIterator on {self.shard_id}: {error_text(exc)}")
                await self.poller.context.pause(ERROR_PAUSE)

    def _resume_position(self) -> Position:
        sequence = self.last_read or self.tracker.frontier
        if sequence is not None:
            return Position("AFTER_SEQUENCE_NUMBER", sequence)
        if self.started is not None:
            return Position("AT_TIMESTAMP", timestamp=self.started)
        return Position("TRIM_HORIZON")

    async def _read(self) -> None:
        """Read until the shard ends."""
        source, context = self.poller.source, self.poller.context
        iterator = await self._open(first=True)
        while True:
            while len(self.tracker) >= self.max_records or self.tracker.bytes >= PAYLOAD_LIMIT * 2 * len(self.lanes):
                self.room.clear()
                await self.room.wait()
            try:
                page = await source.read(self.shard_id, iterator)
            except SOURCE_ERRORS as exc:
                if _code(exc) not in EXPIRED_CODES:
                    self.poller.problem(f"Error occurred while GetRecords on {self.shard_id}: {error_text(exc)}")
                    await context.pause(ERROR_PAUSE)
                iterator = await self._open(first=False)
                continue
            fresh = [r for r in page.records if self.last_read is None or r.number > int(self.last_read)]
            if fresh:
                self.last_read = fresh[-1].sequence
                if self.skip_before is not None:
                    fresh = [r for r in fresh if r.arrival >= self.skip_before - 1.0]
                await self._dispatch(fresh)
            if page.next_iterator is None or (not page.records and self._read_to_end()):
                return
            iterator = page.next_iterator
            if not page.records or page.behind_ms == 0:
                await context.pause(source.poll_interval)

    def _read_to_end(self) -> bool:
        """A closed shard with nothing more to read (some stream services never answer a null iterator)."""
        shard = self.poller.shard(self.shard_id)
        if shard is None or shard.ending is None:
            return False
        last = self.last_read or self.tracker.frontier or "0"
        return int(last) >= int(shard.ending)

    async def _dispatch(self, records: list[StreamRecord]) -> None:
        poller = self.poller
        if not records:
            return
        poller.context.count(poller.mapping, "PolledEventCount", len(records))
        for record in records:
            self.tracker.add(record)
        kept: list[StreamRecord] = records
        dropped: list[StreamRecord] = []
        if not poller.filter.empty:
            kept = []
            for record in records:
                (kept if poller.filter.keeps(record.event, poller.source.kind) else dropped).append(record)
        for record in kept:
            self.lanes[lane_of(record.partition_key, len(self.lanes))].put(record)
        if dropped:
            poller.context.count(poller.mapping, "FilteredOutEventCount", len(dropped))
            await self.settle(dropped)

    async def settle(self, records: Sequence[StreamRecord]) -> None:
        """`records` are done with (processed, filtered out or discarded): move the checkpoint as far as it can go."""
        moved = self.tracker.settle(records)
        self.room.set()
        if moved:
            await self.save()

    async def save(self, finished: bool = False) -> None:
        """Write the shard's checkpoint as it is now (skipped if nothing changed since the last write)."""
        async with self.lock:
            sequence = self.tracker.frontier
            state: dict[str, Any] = {}
            if sequence is None and self.started is not None:
                state["started"] = self.started
            window = self.lanes[0].window_doc()
            if window is not None:
                state["window"] = window
            if finished:
                state = {"finished": True, **({"started": self.started} if "started" in state else {})}
            key = (sequence, orjson.dumps(state, option=orjson.OPT_SORT_KEYS))
            if key == self.written:
                return
            await self.poller.save(Checkpoint(self.poller.mapping.uuid, self.shard_id, sequence, state, time.time()))
            self.written = key
