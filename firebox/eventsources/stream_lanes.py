"""A shard's lanes for the Kinesis and DynamoDB Streams pollers (`streams.py` reads the shard and hands each record
to the lane of its partition key): a lane gathers a batch (BatchSize, MaximumBatchingWindowInSeconds, 6 MB, one
tumbling window), invokes, and settles it: success, a partial batch response (settled up to the first failed record,
the rest retried), bisection, retries and record age, and the records it gives up on sent to the on-failure
destination (`stream_failures.py`). Tumbling windows carry the function's `state` from one invocation to the next and
end with a final invocation.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from firebox.eventsources.poller import OK, PROBLEM_FUNCTION, BatchOutcome, BatchResult
from firebox.eventsources.stream_failures import iso_seconds

if TYPE_CHECKING:
    from firebox.eventsources.streams import ShardReader, StreamRecord

PAYLOAD_LIMIT = 6_291_456 - 65_536
"""What a batch's records may add up to: the synchronous payload limit, less room for the event's own members."""
WINDOW_STATE_LIMIT = 1_048_576
"""A tumbling window's state past this ends the window early (isWindowTerminatedEarly)."""
THROTTLE_PAUSE = 1.0
RETRY_PAUSE = 0.5
MAX_RETRY_PAUSE = 30.0
MISSING: Any = object()
"""A tumbling window's function that answered no `state`: a failed invocation."""


def lane_of(partition_key: str, lanes: int) -> int:
    return zlib.crc32(partition_key.encode()) % lanes if lanes > 1 else 0


def failure_index(records: Sequence[StreamRecord], failed_items: Sequence[str]) -> int | None:
    """Where a partial batch response says the batch failed: the lowest reported record's position; None (the whole
    batch failed) if it names a record the batch does not hold."""
    positions = {record.sequence: index for index, record in enumerate(records)}
    found = [positions.get(item) for item in failed_items]
    return None if any(index is None for index in found) else min(index for index in found if index is not None)


def expired_prefix(records: Sequence[StreamRecord], max_age: int, now: float) -> int:
    """How many records at the head of the batch are older than MaximumRecordAgeInSeconds (-1: none ever are)."""
    if max_age < 0:
        return 0
    count = 0
    while count < len(records) and now - records[count].arrival > max_age:
        count += 1
    return count


class Lane:
    """One ordered line of batches within a shard: records of one partition key always go through the same lane."""

    def __init__(self, reader: ShardReader, index: int, window: Any) -> None:
        self.reader = reader
        self.poller = reader.poller
        self.index = index
        self.queue: deque[tuple[StreamRecord, float]] = deque()
        self.queued_bytes = 0
        self.ready = asyncio.Event()
        self.ending = False
        self.window_start: int | None = None
        self.window_state: Any = {}
        if isinstance(window, dict) and isinstance(window.get("start"), int):
            self.window_start = window["start"]
            self.window_state = window.get("state", {})

    def put(self, record: StreamRecord) -> None:
        self.queue.append((record, time.monotonic()))
        self.queued_bytes += record.size
        self.ready.set()

    def end(self) -> None:
        self.ending = True
        self.ready.set()

    def window_doc(self) -> dict[str, Any] | None:
        if self.window_start is None:
            return None
        return {"start": self.window_start, "state": self.window_state}

    def window_of(self, record: StreamRecord) -> int:
        return int(record.arrival // self.poller.tumbling) * self.poller.tumbling

    async def run(self) -> None:
        while True:
            if not self.queue:
                if self.ending:
                    if self.window_start is not None:
                        await self._final(early=False)
                    return
                self.ready.clear()
                if not await self._wait(self._window_timeout()):
                    await self._final(early=False)  # the window's time is over and no record of it is left
                continue
            batch = await self._gather()
            if self.poller.tumbling:
                start = self.window_of(batch[0])
                if self.window_start is not None and start != self.window_start:
                    await self._final(early=False)
                if self.window_start is None:
                    self.window_start, self.window_state = start, {}
            await self._process(batch)

    async def _wait(self, seconds: float | None) -> bool:
        """Wait for `ready` at most `seconds` (None: for ever); False if the time ran out."""
        try:
            await asyncio.wait_for(self.ready.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def _window_timeout(self) -> float | None:
        if self.window_start is None:
            return None
        grace = 2 * self.poller.source.poll_interval * self.poller.context.interval_scale
        return max(0.0, self.window_start + self.poller.tumbling + grace - time.time())

    async def _gather(self) -> list[StreamRecord]:
        """The next batch: BatchSize records, what arrived within the batching window, 6 MB, or the records of one
        tumbling window, whichever is least."""
        wanted = self.poller.mapping.batch_size
        window = self.poller.mapping.batching_window
        if window > 0:
            deadline = self.queue[0][1] + window
            while len(self.queue) < wanted and self.queued_bytes < PAYLOAD_LIMIT and not self.ending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.ready.clear()
                await self._wait(left)
        batch: list[StreamRecord] = []
        size = 0
        first_window = self.window_of(self.queue[0][0]) if self.poller.tumbling else 0
        while self.queue and len(batch) < wanted:
            record = self.queue[0][0]
            if batch and size + record.size > PAYLOAD_LIMIT:
                break
            if self.poller.tumbling and self.window_of(record) != first_window:
                break
            self.queue.popleft()
            self.queued_bytes -= record.size
            batch.append(record)
            size += record.size
        return batch

    async def _process(self, batch: list[StreamRecord]) -> None:
        """Invoke with a batch until every record of it is settled: processed, or discarded by the mapping's rules."""
        poller = self.poller
        work: deque[tuple[list[StreamRecord], int]] = deque([(batch, 0)])
        last: BatchResult | None = None
        while work:
            records, attempts = work.popleft()
            expired = expired_prefix(records, poller.max_age, time.time())
            if expired:
                await self._discard(records[:expired], "RecordAgeExceeded", attempts, last)
                records = records[expired:]
                if not records:
                    continue
            result, state = await self._invoke(records)
            if result.outcome is BatchOutcome.NOT_INVOKED:
                poller.problem(f"Function call failed. {result.error}")
                await poller.context.pause(THROTTLE_PAUSE)
                work.appendleft((records, attempts))  # nothing ran: no attempt used
                continue
            last = result
            whole = result.outcome is BatchOutcome.FUNCTION_ERROR or (bool(poller.tumbling) and state is MISSING)
            if not whole and not result.failed_items:
                await self._done(records, state)
                continue
            failed_at = None if whole else failure_index(records, result.failed_items)
            whole = failed_at is None
            rest = records[failed_at or 0 :]
            if failed_at:
                await self._done(records[:failed_at], state)
            poller.context.count(poller.mapping, "FailedInvokeEventCount", len(rest))
            poller.context.report(poller.mapping, PROBLEM_FUNCTION)
            if whole and poller.bisect and len(rest) > 1:
                half = len(rest) // 2
                work.extendleft([(rest[half:], attempts), (rest[:half], attempts)])  # splitting uses no attempt
                continue
            if 0 <= poller.max_retries <= attempts:
                await self._discard(rest, "RetryAttemptsExhausted", attempts + 1, result)
                continue
            await poller.context.pause(min(RETRY_PAUSE * 2**attempts, MAX_RETRY_PAUSE))
            work.appendleft((rest, attempts + 1))

    async def _invoke(
        self, records: Sequence[StreamRecord], final: bool = False, early: bool = False
    ) -> tuple[BatchResult, Any]:
        """One invocation, and the `state` a tumbling window's function answered (MISSING if it answered none)."""
        poller = self.poller
        event: dict[str, Any] = {"Records": [record.event for record in records]}
        if poller.tumbling and self.window_start is not None:
            event["shardId"] = self.reader.shard_id
            event["eventSourceARN"] = poller.mapping.source_arn
            end = self.window_start + poller.tumbling
            event["window"] = {"start": iso_seconds(self.window_start), "end": iso_seconds(end)}
            event["state"] = self.window_state
            event["isFinalInvokeForWindow"] = final
            event["isWindowTerminatedEarly"] = early
        result = await poller.context.invoke(poller.mapping, event)
        if result.outcome is BatchOutcome.NOT_INVOKED:
            return result, MISSING
        if records:
            poller.context.count(poller.mapping, "InvokedEventCount", len(records))
            poller.context.count(poller.mapping, "IteratorAge", max(0.0, (time.time() - records[-1].arrival) * 1000))
        return result, _answered_state(result)

    async def _done(self, records: Sequence[StreamRecord], state: Any) -> None:
        poller = self.poller
        if poller.tumbling and state is not MISSING:
            self.window_state = state
        poller.context.report(poller.mapping, OK)
        await self.reader.settle(records)
        if poller.tumbling and len(orjson.dumps(self.window_state)) > WINDOW_STATE_LIMIT:
            await self._final(early=True)

    async def _discard(
        self, records: Sequence[StreamRecord], condition: str, invokes: int, last: BatchResult | None
    ) -> None:
        poller = self.poller
        delivered = bool(poller.destination) and await poller.failures.deliver(
            self.reader.shard_id, records, condition, invokes, last
        )
        metric = "OnFailureDestinationDeliveredEventCount" if delivered else "DroppedEventCount"
        poller.context.count(poller.mapping, metric, len(records))
        await self.reader.settle(records)

    async def _final(self, early: bool) -> None:
        """The window's last invocation (isFinalInvokeForWindow), then a fresh state; after an early end the window
        goes on, otherwise the next record opens the next one."""
        poller = self.poller
        attempts = 0
        while True:
            result, _ = await self._invoke((), final=True, early=early)
            if result.outcome is BatchOutcome.NOT_INVOKED:
                await poller.context.pause(THROTTLE_PAUSE)
                continue
            if result.outcome is BatchOutcome.SUCCESS or 0 <= poller.max_retries <= attempts:
                break
            poller.context.report(poller.mapping, PROBLEM_FUNCTION)
            await poller.context.pause(min(RETRY_PAUSE * 2**attempts, MAX_RETRY_PAUSE))
            attempts += 1
        self.window_state = {}
        if not early:
            self.window_start = None
        await self.reader.save()


def _answered_state(result: BatchResult) -> Any:
    if result.outcome is not BatchOutcome.SUCCESS or result.result is None:
        return MISSING
    try:
        doc = orjson.loads(result.result.payload)
    except orjson.JSONDecodeError:
        return MISSING
    return doc["state"] if isinstance(doc, dict) and "state" in doc else MISSING
