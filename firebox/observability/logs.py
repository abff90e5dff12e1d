"""Function logs, written durably in batches off the hot path.

The data plane hands each invocation's log text to `LogWriter.emit` (no I/O there: it only queues it); a background
task writes what has queued up to the store every `FLUSH_INTERVAL` or when `BATCH` blocks are waiting. Each line
is one log event when read back, as Lambda's platform and runtime lines are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Executor

from firebox.models.function import FunctionConfig
from firebox.models.logs import LogEvent
from firebox.store.base import LogStore

log = logging.getLogger("firebox.observability")
FLUSH_INTERVAL = 0.2
BATCH = 1000


class LogWriter:
    def __init__(self, store: LogStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor
        self._pending: list[LogEvent] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def emit(self, config: FunctionConfig, log_stream: str, text: str) -> None:
        self._pending.append(LogEvent(config.log_group_name, log_stream, int(time.time() * 1000), text))
        if len(self._pending) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._store.append_log_events, batch)
        except Exception as exc:  # keep the events for the next attempt rather than lose them
            log.error("writing %d log events failed; will retry", len(batch), exc_info=exc)
            self._pending[:0] = batch

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def read(self, log_group: str, log_stream: str | None = None, limit: int = 1000) -> list[LogEvent]:
        """The newest `limit` events of a group or stream, oldest first (what is still queued is written first)."""
        await self.flush()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._store.log_events, log_group, log_stream, limit)
