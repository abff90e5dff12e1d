"""Zygotes: one warmed fork server per runtime, so a cold start is a `fork()`, not an interpreter start.

The zygote is `bootstrap/runtime.py` running in the runtime's interpreter, connected to the server by a
SOCK_SEQPACKET socket (one message per request or report). `spawn()` sends an environment's spawn document with its
frame socket and log pipe attached (SCM_RIGHTS) and returns the new process id; `wait_exit()` gives the raw wait
status the zygote reports when it reaps that process. A zygote that dies is started again on the next spawn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from firebox.dataplane.bootstrap import RUNTIME_SCRIPT

log = logging.getLogger("firebox.dataplane")
START_TIMEOUT = 30.0


class ZygoteError(Exception):
    """The zygote could not be started or stopped answering."""


class Zygote:
    def __init__(self, runtime: str, interpreter: str, runtime_lib: Path) -> None:
        self.runtime = runtime
        self.interpreter = interpreter
        self.runtime_lib = runtime_lib
        self.pid: int | None = None
        self.python: tuple[int, ...] = ()
        self.readable_paths: list[str] = []
        """What an environment of this runtime must be able to read: the interpreter's prefixes, the library."""
        self._process: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._spawning: dict[str, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self.forks = 0
        """Environments this zygote has forked since the server started."""

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None and self._sock is not None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.interpreter,
                "-s",
                str(RUNTIME_SCRIPT),
                str(theirs.fileno()),
                str(self.runtime_lib),
                pass_fds=[theirs.fileno()],
                stdin=asyncio.subprocess.DEVNULL,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONUTF8": "1"},
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        try:
            hello = json.loads(await asyncio.wait_for(loop.sock_recv(ours, 65536), START_TIMEOUT))
        except (TimeoutError, ValueError, OSError) as exc:
            ours.close()
            self._process.kill()
            raise ZygoteError(f"the {self.runtime} zygote ({self.interpreter}) did not start: {exc!r}") from None
        self.pid = int(hello["pid"])
        self.python = tuple(hello["python"])
        self.readable_paths = sorted({*hello["prefixes"], *hello["library"]})
        self._sock = ours
        loop.add_reader(ours.fileno(), self._on_readable)
        log.info("zygote for %s started (pid %s, %s)", self.runtime, self.pid, self.interpreter)

    async def ensure_started(self) -> None:
        if self.alive:
            return
        async with self._lock:
            if not self.alive:
                self._close_socket()
                await self.start()

    async def spawn(self, document: dict[str, Any], conn_fd: int, log_fd: int) -> int:
        await self.ensure_started()
        assert self._sock is not None
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawning[document["env_id"]] = future
        data = json.dumps(document, separators=(",", ":")).encode()
        try:
            await self._send(data, [conn_fd, log_fd])
        except OSError as exc:
            self._spawning.pop(document["env_id"], None)
            raise ZygoteError(f"the {self.runtime} zygote is gone: {exc}") from None
        self.forks += 1
        return await asyncio.wait_for(future, START_TIMEOUT)

    async def _send(self, data: bytes, fds: list[int]) -> None:
        """One message with descriptors attached; when many cold starts arrive at once the socket's buffer can be
        full, so wait until the zygote has caught up rather than fail. One sender at a time: an event loop keeps a
        single writer callback per descriptor, so two waiters would replace each other's and one would never wake."""
        async with self._send_lock:
            await self._send_now(data, fds)

    async def _send_now(self, data: bytes, fds: list[int]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            assert self._sock is not None
            try:
                socket.send_fds(self._sock, [data], fds)
                return
            except BlockingIOError:
                writable = loop.create_future()
                fd = self._sock.fileno()
                loop.add_writer(fd, _resolve, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(fd)

    def wait_exit(self, pid: int) -> asyncio.Future[int]:
        """A future for the wait status of `pid`, a process this zygote spawned."""
        future = self._exits.get(pid)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._exits[pid] = future
        return future

    def forget(self, pid: int) -> None:
        self._exits.pop(pid, None)

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._on_lost()
                return
            message = json.loads(data)
            if message["op"] == "spawned":
                future = self._spawning.pop(message["env_id"], None)
                if future is not None and not future.done():
                    future.set_result(int(message["pid"]))
            elif message["op"] == "exited":
                exit_future = self.wait_exit(int(message["pid"]))
                if not exit_future.done():
                    exit_future.set_result(int(message["status"]))

    def _on_lost(self) -> None:
        log.warning("zygote for %s exited; it will be started again when needed", self.runtime)
        self._close_socket()
        error = ZygoteError(f"the {self.runtime} zygote exited")
        for future in self._spawning.values():
            if not future.done():
                future.set_exception(error)
        self._spawning.clear()

    def _close_socket(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def stop(self) -> None:
        self._close_socket()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 2)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


def _resolve(future: asyncio.Future[None]) -> None:
    """A writer callback may run more than once before it is removed: resolve only once."""
    if not future.done():
        future.set_result(None)
