"""The front of the async queue: `enqueue` returns only once the event is committed to the store.

Events arriving while a commit is running wait for the next one, and each commit writes everything waiting in one
transaction (group commit), so the number of transactions grows with time, not with traffic. If a commit fails,
every caller in it gets the error (and answers 5xx): no event is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor

from firebox.models.asynchronous import AsyncEvent
from firebox.store.base import AsyncStore

MAX_BATCH = 1000


class AsyncQueue:
    def __init__(self, store: AsyncStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor
        self._waiting: list[tuple[AsyncEvent, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each commit (the workers use it to look for work at once)."""
        self._listeners.append(listener)

    async def enqueue(self, event: AsyncEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        self._wake.set()
        await future

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._commit_forever())

    async def _commit_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    await loop.run_in_executor(self._executor, self._store.enqueue_events, [e for e, _ in batch])
                except Exception as exc:  # every caller of this batch answers 5xx; nothing was acknowledged
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                for listener in self._listeners:
                    listener()

    async def close(self) -> None:
        """Commit what is waiting, then stop."""
        if self._task is None:
            return
        while self._waiting:
            self._wake.set()
            await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
