"""The background tasks of the observability writers: periodic work that survives its own failures, and a clean
stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger("firebox.observability")


async def every(interval: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `work` every `interval` seconds, forever; a failure is logged and the next round tries again."""
    while True:
        await asyncio.sleep(interval)
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)


async def stop(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until they have ended."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
