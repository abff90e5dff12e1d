"""Delivering invocation records to destinations that can fail: webhooks (a Firebox extension: an `http://` or
`https://` URL as a destination receives the record as a JSON POST).

A record is written to the `deliveries` table before the event it describes is finished, then POSTed by this
deliverer; any answer other than 2xx, or no answer within `TIMEOUT`, is retried with a backoff doubling from 1 s
to 5 min (scaled like the async retries), for as long as it takes. Failures are counted; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import Executor
from typing import Any

from firebox.models.asynchronous import Delivery
from firebox.store.base import AsyncStore

log = logging.getLogger("firebox.asyncinvoke")
TIMEOUT = 10.0
LEASE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
POLL_SECONDS = 0.5
BATCH = 16


def is_webhook(destination: str) -> bool:
    return destination.startswith(("http://", "https://"))


class Deliverer:
    def __init__(self, store: AsyncStore, executor: Executor, retry_scale: float) -> None:
        self._store = store
        self._executor = executor
        self.retry_scale = retry_scale
        self.failures = 0
        """Failed delivery attempts since start (each retried)."""
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run_forever(self) -> None:
        await self._run(self._store.release_delivery_leases)
        while True:
            now = time.time()
            deliveries = await self._run(self._store.lease_deliveries, now, now + LEASE_SECONDS, BATCH)
            await asyncio.gather(*(self._deliver(delivery) for delivery in deliveries))
            if not deliveries:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                self._wake.clear()

    async def _deliver(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        error = await self._run(_post, delivery.destination, delivery.body)
        if error is None:
            await self._run(self._store.finish_delivery, delivery.id)
            return
        self.failures += 1
        attempts = delivery.attempts + 1
        delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempts - 1)) * self.retry_scale
        log.warning(
            "delivery to %s failed (attempt %d, again in %.1f s): %s", delivery.destination, attempts, delay, error
        )
        await self._run(self._store.retry_delivery, delivery.id, time.time() + delay, attempts, error)


def _post(url: str, body: bytes) -> str | None:
    """POST the record; None on a 2xx answer, else what went wrong."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(exc)
