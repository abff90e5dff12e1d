"""Function logs, written durably in batches off the hot path, and kept within their retention and a disk bound.

The data plane hands each invocation's log text to `LogWriter.emit` (no I/O there: it only queues it); a background
task writes what has queued up to the store every `FLUSH_INTERVAL` or when `BATCH` blocks are waiting, one
transaction per batch (the blocks plus one counter upsert per stream). Each line is one log event when read back,
as Lambda's platform and runtime lines are. A second task sweeps every `sweep_interval` seconds: it deletes what
is older than its group's retention, then the oldest blocks while more than `max_bytes` of log text is stored.

Readers (the CloudWatch Logs API) go through `run`, which first writes what is queued, so an invocation's lines
are visible to the next read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

from firebox.models.function import FunctionConfig
from firebox.models.logs import LogEvent
from firebox.observability import background
from firebox.store.base import LogStore

log = logging.getLogger("firebox.observability")
FLUSH_INTERVAL = 1.0
"""Seconds between writes of what has been emitted. Each write has a fixed cost (a transaction, a thread hop, the
GIL handed back and forth), so a busy server pays less per line the longer it waits; reads write first anyway."""
BATCH = 20_000
"""Blocks waiting that trigger a write before the interval is up (bounds the memory they hold)."""
DEFAULT_MAX_BYTES = 1_073_741_824
DEFAULT_SWEEP_INTERVAL = 60.0

P = ParamSpec("P")
T = TypeVar("T")
FlushCallback = Callable[[Sequence[LogEvent]], None]


class LogWriter:
    def __init__(
        self,
        store: LogStore,
        executor: Executor,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
    ) -> None:
        self._store = store
        self._executor = executor
        self.max_bytes = max_bytes
        self.sweep_interval = sweep_interval
        self._pending: list[LogEvent] = []
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._on_flush: list[FlushCallback] = []

    @property
    def store(self) -> LogStore:
        return self._store

    def on_flush(self, callback: FlushCallback) -> None:
        """Call `callback(batch)` after each batch of events is committed to the store.

        It runs in the executor thread that wrote the batch, right after the commit (so it must not touch the event
        loop; it may block briefly, and may call the store). For function output each event's message is a block of
        lines (an invocation's START..REPORT): split it with `str.splitlines` for one line per event; events a
        client sent with PutLogEvents come one message each. An exception from a callback is logged and affects
        neither the batch nor the other callbacks.
        """
        self._on_flush.append(callback)

    def emit(self, config: FunctionConfig, log_stream: str, text: str) -> None:
        self._pending.append(LogEvent(config.log_group_name, log_stream, int(time.time() * 1000), text))
        if len(self._pending) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run()),
            loop.create_task(background.every(self.sweep_interval, self.sweep, "sweeping old log events")),
        ]

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued now; batches are committed one at a time, in the order they were emitted."""
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, self._write_batch, batch)
            except Exception as exc:  # keep the events for the next attempt rather than lose them
                log.error("writing %d log events failed; will retry", len(batch), exc_info=exc)
                self._pending[:0] = batch

    def _write_batch(self, batch: Sequence[LogEvent]) -> None:
        """In the executor: commit the batch, then tell the `on_flush` callbacks."""
        self._store.append_log_events(batch)
        self._notify(batch)

    def _notify(self, batch: Sequence[LogEvent]) -> None:
        for callback in self._on_flush:
            try:
                callback(batch)
            except Exception as exc:
                log.error("a log flush callback failed", exc_info=exc)

    async def put(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> str:
        """PutLogEvents: commit (timestamp, message) events now; 'ok', 'no group' or 'no stream'."""

        def write() -> str:
            outcome = self._store.put_log_events(group, stream, events)
            if outcome == "ok" and events:
                self._notify([LogEvent(group, stream, timestamp, message) for timestamp, message in events])
            return outcome

        return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a store call in the executor, after writing what is queued (so reads see every emitted line)."""
        await self.flush()
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def sweep(self) -> int:
        """Apply retention and the disk bound once; the number of blocks deleted (errors are logged, not raised)."""
        loop = asyncio.get_running_loop()
        try:
            deleted = await loop.run_in_executor(self._executor, self._store.sweep_logs, self.max_bytes)
        except Exception as exc:
            log.error("sweeping old log events failed", exc_info=exc)
            return 0
        if deleted:
            log.info("deleted %d log block(s) past retention or the log_max_bytes bound", deleted)
        return deleted

    async def close(self) -> None:
        await background.stop(self._tasks)
        self._tasks = []
        await self.flush()

    async def read(self, log_group: str, log_stream: str | None = None, limit: int = 1000) -> list[LogEvent]:
        """The newest `limit` events of a group or stream, oldest first (what is still queued is written first)."""
        return await self.run(self._store.log_events, log_group, log_stream, limit)
