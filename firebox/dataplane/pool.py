"""The environment pool.

Rules:
- Environments are keyed by what they run: function, version, code and every setting that reaches the runtime
  (`environment_key`). A change to any of them is a new key, so no invocation after a change can reach an
  environment built before it; environments of an old key are retired (idle ones at once, busy ones when they
  finish).
- One invocation at a time per environment. An idle environment is reused most-recently-used first (LIFO), which
  keeps the warmest ones warm and lets the rest age out.
- Idle environments are retired after `idle_ttl` seconds (SHUTDOWN: SIGTERM, `shutdown_grace`, SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict

from firebox.dataplane.environment import Environment, EnvironmentState
from firebox.models.function import FunctionConfig

log = logging.getLogger("firebox.dataplane")

_RUNTIME_FIELDS = (
    "name",
    "version",
    "runtime",
    "handler",
    "code",
    "timeout",
    "memory_size",
    "ephemeral_storage",
    "environment",
    "architectures",
    "log_format",
    "log_group",
    "application_log_level",
    "system_log_level",
)


_KEYS: dict[tuple[str, str, str], str] = {}


def environment_key(config: FunctionConfig) -> str:
    """A digest of everything about a function version that an environment bakes in (memoised per revision)."""
    memo = (config.name, config.version, config.revision_id)
    key = _KEYS.get(memo)
    if key is None:
        if len(_KEYS) > 10_000:
            _KEYS.clear()
        key = _KEYS[memo] = _digest(config)
    return key


def _digest(config: FunctionConfig) -> str:
    doc = asdict(config)
    material = json.dumps({field: doc[field] for field in _RUNTIME_FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class EnvironmentPool:
    def __init__(self, idle_ttl: float, shutdown_grace: float) -> None:
        self.idle_ttl = idle_ttl
        self.shutdown_grace = shutdown_grace
        self._idle: dict[str, list[Environment]] = {}
        self._current_key: dict[str, str] = {}
        self._all: set[Environment] = set()
        self._retiring: set[asyncio.Task[None]] = set()
        self._provisioned_idle: dict[str, list[Environment]] = {}

    def acquire_nowait(self, config: FunctionConfig, key: str) -> Environment | None:
        """An idle environment for exactly this key, or None. Retires environments of older keys."""
        function = f"{config.name}:{config.version}"
        if self._current_key.get(function) != key:
            self._current_key[function] = key
            self._retire_where(
                lambda env: env.config.name == config.name and env.config.version == config.version and env.key != key
            )
        provisioned = self._provisioned_idle.get(key)
        if provisioned:  # provisioned environments first: initialised ahead, no cold start
            return provisioned.pop()
        idle = self._idle.get(key)
        if not idle:
            return None
        env = idle.pop()
        if not idle:
            del self._idle[key]
        return env

    def add(self, env: Environment) -> None:
        """Track a new environment (busy: it was created for an invocation)."""
        self._all.add(env)

    def release(self, env: Environment) -> None:
        """An invocation finished with `env`: keep it for the next one, or retire it if its key is stale."""
        env.last_used = time.monotonic()
        current = self._current_key.get(f"{env.config.name}:{env.config.version}")
        if env.state is EnvironmentState.DEAD or (current is not None and current != env.key):
            self._retire(env)
            return
        if env.provisioned:
            self._provisioned_idle.setdefault(env.key, []).append(env)
            return
        if current is None:
            self._retire(env)
            return
        self._idle.setdefault(env.key, []).append(env)

    def add_provisioned(self, env: Environment) -> None:
        """Keep an initialised environment warm for its version: never reaped, used before on-demand ones."""
        env.provisioned = True
        self._all.add(env)
        self._provisioned_idle.setdefault(env.key, []).append(env)

    def release_provisioned(self, env: Environment) -> None:
        """No longer provisioned: retire it now if idle, else when its invocation ends."""
        env.provisioned = False
        idle = self._provisioned_idle.get(env.key, [])
        if env in idle:
            idle.remove(env)
            self._retire(env)

    def _retire_where(self, predicate: object) -> None:
        assert callable(predicate)
        for key, idle in list(self._idle.items()):
            keep = [env for env in idle if not predicate(env)]
            for env in idle:
                if predicate(env):
                    self._retire(env)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def _retire(self, env: Environment) -> None:
        if env not in self._all:
            return
        self._all.discard(env)
        task = asyncio.get_running_loop().create_task(env.retire(self.shutdown_grace))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def retire_function(self, name: str) -> None:
        """Retire the idle environments of a function (deleted, or changed)."""
        for function in [f for f in self._current_key if f.split(":", 1)[0] == name]:
            del self._current_key[function]
        self._retire_where(lambda env: env.config.name == name)

    def reap_idle(self) -> int:
        deadline = time.monotonic() - self.idle_ttl
        before = len(self._all)
        self._retire_where(lambda env: env.last_used < deadline)
        return before - len(self._all)

    async def reap_forever(self) -> None:
        interval = max(0.05, min(self.idle_ttl / 4, 10.0))
        while True:
            await asyncio.sleep(interval)
            reaped = self.reap_idle()
            if reaped:
                log.debug("retired %d idle environment(s)", reaped)

    def statistics(self) -> dict[str, int]:
        counts = Counter(env.state.value for env in self._all)
        return {"environments": len(self._all), "idle": sum(len(v) for v in self._idle.values()), **counts}

    async def close(self) -> None:
        for env in list(self._all):
            self._retire(env)
        self._idle.clear()
        self._provisioned_idle.clear()
        while self._retiring:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._retiring), return_exceptions=True)
