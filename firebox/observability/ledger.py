"""The metering ledger: usage per UTC month, function and executed version, collected off the hot path.

`record` is a `Telemetry` invocation sink: one dict entry per (month, function, version) and a few integer
additions, no I/O. A background task adds what has built up to the store every `flush_interval` seconds (one
transaction through the executor); a failed write keeps the sums for the next attempt, and `close` writes the rest.
Another task accrues provisioned concurrency every `provisioned_interval` seconds: for each configuration, the
configured number of environments × the version's memory × the milliseconds it was configured since the last tick
(from its last change when that is later). Downtime accrues nothing: no environments exist then.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from concurrent.futures import Executor
from typing import Any

from firebox.models.telemetry import InvocationRecord
from firebox.observability import background
from firebox.observability.billing import PriceTable, Usage, cost_report, ephemeral_mb
from firebox.store.base import LedgerStore

log = logging.getLogger("firebox.observability")
_Key = tuple[str, str, str]
"""(month, function, version)"""


def month_of(epoch_seconds: float) -> str:
    """'YYYY-MM' of a moment, in UTC."""
    return time.strftime("%Y-%m", time.gmtime(epoch_seconds))


class _MonthCache:
    """The month label of the current month, recomputed only when a timestamp falls outside it."""

    def __init__(self) -> None:
        self._start = 0.0
        self._end = 0.0
        self._label = ""

    def __call__(self, when: float) -> str:
        if self._start <= when < self._end:
            return self._label
        moment = time.gmtime(when)
        self._start = float(calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0)))
        year, month = (moment.tm_year + 1, 1) if moment.tm_mon == 12 else (moment.tm_year, moment.tm_mon + 1)
        self._end = float(calendar.timegm((year, month, 1, 0, 0, 0)))
        self._label = f"{moment.tm_year:04d}-{moment.tm_mon:02d}"
        return self._label


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        executor: Executor,
        prices: PriceTable,
        flush_interval: float = 1.0,
        provisioned_interval: float = 5.0,
    ) -> None:
        self.prices = prices
        self._store = store
        self._executor = executor
        self._flush_interval = flush_interval
        self._provisioned_interval = provisioned_interval
        self._pending: dict[_Key, Usage] = {}
        self._month = _MonthCache()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_tick_ms = int(time.time() * 1000)

    # the hot path

    def record(self, record: InvocationRecord) -> None:
        key = (self._month(record.timestamp), record.function, record.executed_version)
        usage = self._pending.get(key)
        if usage is None:
            usage = self._pending[key] = Usage()
        billed = record.billed_duration_ms
        usage.requests += 1
        usage.billed_ms += billed
        usage.duration_mb_ms += record.memory_size_mb * billed
        usage.ephemeral_mb_ms += ephemeral_mb(record.ephemeral_storage_mb) * billed

    # background work

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_tick_ms = int(time.time() * 1000)
        self._tasks = [
            loop.create_task(background.every(self._flush_interval, self.flush, "writing billing usage")),
            loop.create_task(background.every(self._provisioned_interval, self.tick, "accruing provisioned usage")),
        ]

    async def flush(self) -> None:
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        rows = [(*key, *usage.as_row()) for key, usage in batch.items()]
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._store.add_usage, rows)
        except Exception as exc:  # keep the sums for the next attempt rather than lose them
            log.error("writing billing usage failed; will retry", exc_info=exc)
            for key, usage in batch.items():
                self._pending.setdefault(key, Usage()).add(usage)

    async def tick(self) -> None:
        """Accrue provisioned concurrency up to now."""
        loop = asyncio.get_running_loop()
        targets = await loop.run_in_executor(self._executor, self._provisioned_targets)
        now_ms = int(time.time() * 1000)
        since, self._last_tick_ms = self._last_tick_ms, max(self._last_tick_ms, now_ms)
        month = self._month(now_ms / 1000)
        for function, version, count, memory_mb, modified_ms in targets:
            elapsed = now_ms - max(since, modified_ms)
            if elapsed <= 0 or count <= 0:
                continue
            key = (month, function, version)
            usage = self._pending.get(key)
            if usage is None:
                usage = self._pending[key] = Usage()
            usage.provisioned_mb_ms += count * memory_mb * elapsed

    def _provisioned_targets(self) -> list[tuple[str, str, int, int, int]]:
        """(function, version, configured environments, memory MB, last change in epoch ms) per configuration; an
        alias's is the version it points at."""
        targets = []
        for name, qualifier, requested, modified in self._store.list_provisioned():
            version = qualifier
            if not qualifier.isdigit():
                alias = self._store.get_alias(name, qualifier)
                if alias is None:
                    continue
                version = alias.function_version
            config = self._store.get_config(name, version)
            if config is not None:
                targets.append((name, version, requested, config.memory_size, int(modified * 1000)))
        return targets

    async def close(self) -> None:
        await background.stop(self._tasks)
        self._tasks = []
        try:
            await self.tick()
        except Exception:
            log.exception("accruing provisioned usage at shutdown failed")
        await self.flush()

    # queries

    async def usage(self, month: str) -> dict[tuple[str, str], Usage]:
        """Everything a month has used per (function, version), recorded or still pending."""
        async with self._lock:
            await self._flush_locked()
            loop = asyncio.get_running_loop()
            rows = await loop.run_in_executor(self._executor, self._store.usage, month)
            found: dict[tuple[str, str], Usage] = {}
            for _, function, version, *sums in rows:
                found[(function, version)] = Usage(*sums)
            for (pending_month, function, version), usage in self._pending.items():
                if pending_month == month:
                    found.setdefault((function, version), Usage()).add(usage)
            return found

    async def report(self, month: str, function: str | None = None) -> dict[str, Any]:
        """The cost document of a month: the function's versions (or every function's) and the account's totals."""
        found = await self.usage(month)
        account = Usage()
        for usage in found.values():
            account.add(usage)
        rows = [
            (name, version, usage)
            for (name, version), usage in sorted(found.items())
            if function is None or name == function
        ]
        return cost_report(month, rows, account, self.prices)
