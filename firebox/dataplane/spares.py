"""Spare runtimes: processes forked and isolated ahead of time, waiting to be given a function.

Most of a cold start's cost in the linux sandbox is the part that does not depend on the function: joining the
cgroups (the kernel's cgroup attach waits for an RCU grace period, ~10 ms), new namespaces, the pid-namespace fork,
a fresh /proc. A spare has done all that already; a cold start takes one, fits its sandbox to the function (limits,
code, /tmp size) and sends it the assignment, and the pool forks a replacement in the background.

Spares are kept only for runtimes that have been used (`per_runtime` each), so an idle server holds none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from firebox.dataplane.sandbox import Sandbox, SandboxHandle
from firebox.dataplane.zygote import Zygote

log = logging.getLogger("firebox.dataplane")
DEFAULT_PER_RUNTIME = 4


@dataclass
class Spare:
    env_id: str
    handle: SandboxHandle
    pid: int
    sock: socket.socket
    log_fd: int


class SparePool:
    def __init__(self, sandbox: Sandbox, zygotes: Mapping[str, Zygote], per_runtime: int = DEFAULT_PER_RUNTIME) -> None:
        self.sandbox = sandbox
        self.zygotes = zygotes
        self.per_runtime = per_runtime
        self._spares: dict[str, list[Spare]] = {}
        self._filling: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def counts(self) -> dict[str, int]:
        """Spares ready now, by runtime."""
        return {runtime: len(spares) for runtime, spares in self._spares.items()}

    def take(self, runtime: str) -> Spare | None:
        """A spare for `runtime`, or None; either way the pool starts filling up again."""
        spares = self._spares.setdefault(runtime, [])
        spare = spares.pop() if spares else None
        self._fill(runtime)
        return spare

    def _fill(self, runtime: str) -> None:
        if self._closed or self.per_runtime <= 0 or runtime in self._filling:
            return
        task = asyncio.get_running_loop().create_task(self._fill_up(runtime))
        self._filling[runtime] = task
        task.add_done_callback(lambda _: self._filling.pop(runtime, None))

    async def _fill_up(self, runtime: str) -> None:
        """Make the missing spares side by side: each spends most of its time waiting on the kernel (cgroup
        attach), so making them in parallel multiplies the rate."""
        spares = self._spares.setdefault(runtime, [])
        while not self._closed and len(spares) < self.per_runtime:
            wanted = self.per_runtime - len(spares)
            made = await asyncio.gather(
                *(self._make(self.zygotes[runtime]) for _ in range(wanted)), return_exceptions=True
            )
            for spare in made:
                if isinstance(spare, BaseException):
                    log.warning("could not make a spare %s runtime: %s", runtime, spare)
                else:
                    spares.append(spare)
            if any(isinstance(spare, BaseException) for spare in made):
                return

    async def _make(self, zygote: Zygote) -> Spare:
        env_id = uuid.uuid4().hex
        handle = self.sandbox.prepare(env_id)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_read, log_write = os.pipe()
        try:
            pid = await zygote.spawn({"env_id": env_id, "sandbox": handle.document}, theirs.fileno(), log_write)
        except BaseException:
            ours.close()
            os.close(log_read)
            self.sandbox.release(handle)
            raise
        finally:
            theirs.close()
            os.close(log_write)
        return Spare(env_id, handle, pid, ours, log_read)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._filling.values()):
            task.cancel()
        await asyncio.gather(*self._filling.values(), return_exceptions=True)
        for runtime, spares in self._spares.items():
            for spare in spares:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(spare.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.zygotes[runtime].wait_exit(spare.pid)), 2)
                self.zygotes[runtime].forget(spare.pid)
                spare.sock.close()
                os.close(spare.log_fd)
                self.sandbox.release(spare.handle)
        self._spares.clear()
