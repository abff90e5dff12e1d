"""The poller manager: one poller task per enabled event source mapping, kept in step with the mappings in the store.

The control plane (`control/mappings.py`) writes a mapping in a transient state and calls `changed(uuid)`; the
manager then, one mapping at a time:
- Creating, Enabling, Updating: stops the mapping's poller if one runs, starts one with the mapping as stored, and
  moves the state on to Enabled;
- Disabling: stops the poller, then Disabled;
- Deleting: stops the poller, then deletes the mapping (its checkpoints go with it).
Each step is a compare-and-set on the state, so an update that lands meanwhile is not overwritten: it has queued its
own `changed` call. At start the manager does the same for every stored mapping, so pollers resume after a restart
from their checkpoints, and transient states left by a crash are finished.

It also keeps the mappings' figures (polled, invoked, failed, filtered, deleted; iterator age) for CloudWatch
(AWS/Lambda, by EventSourceMappingUUID) and Prometheus, and their LastProcessingResult.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from typing import Any

from firebox.aws_endpoints import AwsClients
from firebox.dataplane.router import Router
from firebox.eventsources.poller import PollerContext
from firebox.eventsources.sources import FACTORIES
from firebox.models.mappings import EventSourceMapping, MappingState
from firebox.models.metrics import MetricPoint, SeriesKey, Stat
from firebox.store.base import MappingStore

log = logging.getLogger("firebox.eventsources")

MAXIMA = frozenset({"IteratorAge", "OffsetLag", "RecordAge"})
"""Figures that are an age or a lag in milliseconds (CloudWatch keeps their maximum), not counts."""
LOCAL = frozenset({"RecordAge"})
"""Figures kept for Prometheus and `firebox mappings` only: the age of the oldest record of the last batch from a
source that has no IteratorAge of its own on AWS (SQS, RabbitMQ)."""
_STARTING = (MappingState.CREATING, MappingState.ENABLING, MappingState.UPDATING, MappingState.ENABLED)


class MappingManager:
    def __init__(
        self,
        store: MappingStore,
        executor: Executor,
        router: Router,
        clients: AwsClients,
        region: str,
        account_id: str,
        interval_scale: float,
        brokers: Mapping[str, str],
        put_metrics: Callable[[Iterable[MetricPoint]], None],
    ) -> None:
        self._store = store
        self._executor = executor
        self._put_metrics = put_metrics
        self.context = PollerContext(
            router=router,
            clients=clients,
            store=store,
            executor=executor,
            region=region,
            account_id=account_id,
            interval_scale=interval_scale,
            count=self.count,
            report=self.report,
            brokers=brokers,
        )
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._results: dict[str, str] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        """Figures since start by mapping UUID (Prometheus and `firebox mappings` read them)."""
        self.functions: dict[str, str] = {}
        """The function of each mapping the manager has seen, by UUID (labels for the figures)."""
        self._closed = False

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        for mapping in await self._run(self._store.all_mappings):
            self._results[mapping.uuid] = mapping.last_result
            await self._apply(mapping.uuid)

    def changed(self, mapping_uuid: str) -> None:
        """A mapping was written: bring its poller in line (soon, in order with other changes to it)."""
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._apply(mapping_uuid), name=f"apply mapping {mapping_uuid}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _apply(self, mapping_uuid: str) -> None:
        async with self._locks[mapping_uuid]:
            mapping: EventSourceMapping | None = await self._run(self._store.get_mapping, mapping_uuid)
            await self._stop(mapping_uuid)
            if mapping is None or self._closed:
                return
            self.functions[mapping.uuid] = mapping.function_name
            if mapping.state is MappingState.DELETING:
                await self._run(self._store.delete_mapping, mapping_uuid)
                self._results.pop(mapping_uuid, None)
                return
            if mapping.state in _STARTING:
                factory = FACTORIES.get(mapping.kind)
                if factory is None:
                    log.error("no poller for %s sources (mapping %s)", mapping.kind.value, mapping_uuid)
                    return
                poller = factory(mapping, self.context)
                self._pollers[mapping_uuid] = asyncio.get_running_loop().create_task(
                    self._poll(mapping, poller.run), name=f"poll {mapping.source_arn}"
                )
                settled = MappingState.ENABLED
            else:
                settled = MappingState.DISABLED
            if mapping.state is not settled:
                await self._run(self._store.replace_mapping, dataclasses.replace(mapping, state=settled), mapping.state)

    async def _poll(self, mapping: EventSourceMapping, run: Callable[[], Any]) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the poller of mapping %s stopped", mapping.uuid)
            self.report(mapping, "PROBLEM: Internal error in the poller.")

    async def _stop(self, mapping_uuid: str) -> None:
        task = self._pollers.pop(mapping_uuid, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        self._closed = True
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        for mapping_uuid in list(self._pollers):
            await self._stop(mapping_uuid)

    # what pollers report

    def count(self, mapping: EventSourceMapping, metric: str, value: float) -> None:
        totals = self.totals[mapping.uuid]
        if metric in MAXIMA:
            totals[metric] = value  # the latest, for the CLI's lag
        else:
            totals[metric] += value
        if metric in LOCAL:
            return
        stat = Stat(histogram=False)
        stat.add(value)
        now = int(time.time())
        dimensions = (("EventSourceMappingUUID", mapping.uuid),)
        if metric in MAXIMA:
            dimensions = (("FunctionName", mapping.function_name),)
        series = SeriesKey("AWS/Lambda", metric, dimensions, "Milliseconds" if metric in MAXIMA else "Count")
        self._put_metrics([MetricPoint(series, now, 60, stat)])

    def report(self, mapping: EventSourceMapping, result: str) -> None:
        if self._results.get(mapping.uuid) == result or self._closed:
            return
        self._results[mapping.uuid] = result
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._store.set_mapping_result, mapping.uuid, result
        )
        future.add_done_callback(_log_failure)

    def figures(self) -> dict[str, dict[str, Any]]:
        """What each mapping's poller has done since the server started, by UUID (`GET /firebox/mappings`)."""
        return {
            mapping_uuid: {
                "FunctionName": self.functions.get(mapping_uuid, ""),
                "Polling": mapping_uuid in self._pollers and not self._pollers[mapping_uuid].done(),
                "LastProcessingResult": self._results.get(mapping_uuid, ""),
                **{name: value for name, value in sorted(self.totals.get(mapping_uuid, {}).items())},
            }
            for mapping_uuid in sorted(set(self.functions) | set(self._pollers))
        }


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("could not record a mapping's result: %s", future.exception())
