"""Provisioned concurrency: environments initialised ahead of time and kept warm for a version or an alias.

A reconciling loop compares what the `provisioned_configs` ask for with the environments it keeps, per function
and qualifier (an alias is provisioned for the version it points at): it starts and initialises the missing ones
(INIT under max(130 s, the function's timeout), with `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`) and
hands them to the pool, which uses them before any on-demand environment and never reaps them; it gives back the
ones no longer wanted. Invocations beyond them spill over to on-demand environments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from typing import Any

from firebox.dataplane.catalog import FunctionCatalog
from firebox.dataplane.environment import Environment, EnvironmentState
from firebox.dataplane.invoker import Invoker
from firebox.dataplane.pool import EnvironmentPool, environment_key
from firebox.models.function import FunctionConfig
from firebox.store.base import ProvisionedStore

log = logging.getLogger("firebox.dataplane")
PROVISIONED_INIT_LIMIT = 130.0
RECONCILE_SECONDS = 1.0


class ProvisionedConcurrency:
    def __init__(
        self,
        store: ProvisionedStore,
        executor: Executor,
        catalog: FunctionCatalog,
        invoker: Invoker,
        pool: EnvironmentPool,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._executor = executor
        self._invoker = invoker
        self._pool = pool
        self._kept: dict[tuple[str, str], list[Environment]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def allocated(self, function_name: str, qualifier: str) -> int:
        """Environments initialised and kept for this function and qualifier."""
        return sum(env.state is not EnvironmentState.DEAD for env in self._kept.get((function_name, qualifier), []))

    async def run_forever(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # keep the loop alive; the next round tries again
                log.exception("reconciling provisioned concurrency failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RECONCILE_SECONDS)
            self._wake.clear()

    async def reconcile(self) -> None:
        loop = asyncio.get_running_loop()
        wanted: dict[tuple[str, str], int] = {
            (name, qualifier): requested
            for name, qualifier, requested, _ in await loop.run_in_executor(
                self._executor, self._store.list_provisioned
            )
        }
        for target in [t for t in self._kept if t not in wanted]:
            self._give_back(target, 0)
        for target, requested in wanted.items():
            config = await self._catalog.resolve(*target)  # an alias: its primary version
            if config is None:
                continue
            key = environment_key(config)
            kept = self._kept.setdefault(target, [])
            kept[:] = [env for env in kept if env.state is not EnvironmentState.DEAD]
            for env in [env for env in kept if env.key != key]:  # the alias moved to another version
                kept.remove(env)
                self._pool.release_provisioned(env)
            self._give_back(target, requested)
            while len(kept) < requested:
                started = await self._initialised(config, key)
                if started is None:
                    break
                kept.append(started)
                self._pool.add_provisioned(started)

    def _give_back(self, target: tuple[str, str], keep: int) -> None:
        kept = self._kept.get(target, [])
        while len(kept) > keep:
            self._pool.release_provisioned(kept.pop())
        if keep == 0:
            self._kept.pop(target, None)

    async def _initialised(self, config: FunctionConfig, key: str) -> Environment | None:
        env = self._invoker.new_environment(config, key, provisioned=True)
        try:
            await env.start()
            outcome = await env.initialize(max(PROVISIONED_INIT_LIMIT, float(config.timeout)))
        except Exception:
            log.exception("a provisioned environment of %s:%s could not start", config.name, config.version)
            await env.retire(0)
            return None
        if not outcome.ok:
            output: Any = env.take_output()
            log.warning(
                "a provisioned environment of %s:%s failed to initialise: %s",
                config.name,
                config.version,
                output.strip()[-500:],
            )
            await env.retire(0)
            return None
        env.take_output()  # INIT's output; provisioned INITs are not part of any invocation's log
        return env

    async def close(self) -> None:
        for target in list(self._kept):
            self._give_back(target, 0)
