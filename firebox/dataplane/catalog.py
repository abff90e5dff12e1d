"""The data plane's read-only view of function configurations: an in-memory cache over the store.

A warm invocation must not hop to a thread to read SQLite, so configurations are cached here and the control plane
tells the cache (`invalidate`) whenever it changes or deletes a function; a miss reads the store once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from firebox.models.function import LATEST, Alias, FunctionConfig
from firebox.store.base import AliasStore, FunctionStore


class CatalogStore(FunctionStore, AliasStore, Protocol):
    pass


class FunctionCatalog:
    def __init__(self, store: CatalogStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor
        self._configs: dict[tuple[str, str], FunctionConfig] = {}
        self._aliases: dict[tuple[str, str], Alias | None] = {}
        self._reserved: dict[str, int | None] = {}
        self._total_reserved: int | None = None
        self._generation: dict[str, int] = {}
        self._listeners: list[Callable[[str], None]] = []

    def on_invalidate(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def invalidate(self, name: str) -> None:
        """Forget what is cached for `name` (called by the control plane after every change)."""
        self._generation[name] = self._generation.get(name, 0) + 1
        for key in [k for k in self._configs if k[0] == name]:
            del self._configs[key]
        for key in [k for k in self._aliases if k[0] == name]:
            del self._aliases[key]
        self._reserved.pop(name, None)
        self._total_reserved = None
        for listener in self._listeners:
            listener(name)

    async def resolve(self, name: str, qualifier: str | None, draw: float | None = None) -> FunctionConfig | None:
        """The configuration a qualifier names: `$LATEST` (None), a version, or an alias's version: its primary
        one, or with `draw` (uniform in [0, 1)) the additional version when the draw falls under its weight."""
        version = qualifier or LATEST
        if not (version == LATEST or version.isdigit()):
            alias = await self.alias(name, version)
            if alias is None:
                return None
            version = alias.function_version
            if draw is not None and alias.additional_version is not None and draw < alias.additional_weight:
                version = alias.additional_version
        return await self.get(name, version)

    async def get(self, name: str, version: str) -> FunctionConfig | None:
        cached = self._configs.get((name, version))
        if cached is not None:
            return cached
        generation = self._generation.get(name, 0)
        loop = asyncio.get_running_loop()
        config = await loop.run_in_executor(self._executor, self._store.get_config, name, version)
        if config is not None and self._generation.get(name, 0) == generation:
            self._configs[(name, version)] = config
        return config

    async def reserved(self, name: str) -> tuple[int | None, int]:
        """The function's reserved concurrency (None: unreserved) and the account's total of reservations."""
        if name not in self._reserved or self._total_reserved is None:
            generation = self._generation.get(name, 0)
            loop = asyncio.get_running_loop()
            function = await loop.run_in_executor(self._executor, self._store.get_function, name)
            usage = await loop.run_in_executor(self._executor, self._store.account_usage)
            if self._generation.get(name, 0) != generation:
                return (function.reserved_concurrency if function else None), usage.reserved_concurrency
            self._reserved[name] = function.reserved_concurrency if function else None
            self._total_reserved = usage.reserved_concurrency
        return self._reserved[name], self._total_reserved

    async def alias(self, name: str, alias: str) -> Alias | None:
        key = (name, alias)
        if key in self._aliases:
            return self._aliases[key]
        generation = self._generation.get(name, 0)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self._executor, self._store.get_alias, name, alias)
        if self._generation.get(name, 0) == generation:
            self._aliases[key] = found
        return found
