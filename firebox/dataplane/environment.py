"""One execution environment: a sandbox, and in it at most one runtime process at a time.

Lifecycle (`EnvironmentState`): `cold` (no runtime process: new, or reset after a timeout or crash) →
`initializing` → `ready` ⇄ `busy` → `dead` (retired). A reset keeps the environment, its id, log stream and /tmp,
as Lambda keeps /tmp across a reset; the next invocation starts a new runtime in it and initialises again.

The runtime's stdout and stderr arrive on a pipe read continuously by the event loop; a runtime flushes them before
it answers, so when an answer arrives everything it printed for that invocation is already in the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from firebox.dataplane.frames import FRAME, read_frame, write_frame
from firebox.dataplane.sandbox import Sandbox, SandboxHandle
from firebox.dataplane.spares import Spare
from firebox.dataplane.zygote import Zygote
from firebox.models.function import FunctionConfig

MAX_LOG_BYTES = 1 << 20
"""Output kept per invocation; beyond it the log says it was truncated."""
EXIT_STATUS_WAIT = 2.0
TMP_SAMPLE_SECONDS = 1.0
"""How stale the /tmp usage figure of an environment may be."""


class EnvironmentState(StrEnum):
    COLD = "cold"
    INITIALIZING = "initializing"
    READY = "ready"
    BUSY = "busy"
    DEAD = "dead"


class RuntimeGone(Exception):
    """The runtime process ended (or had to be killed) before it answered."""


@dataclass(frozen=True, slots=True)
class InitOutcome:
    ok: bool
    duration_ms: float
    error: bytes = b""
    """The init error document (JSON) when the runtime reported one."""
    timed_out: bool = False
    exit_status: int | None = None
    """The wait status when the runtime exited during init."""


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # "result" | "error"
    payload: bytes
    cpu_ms: float | None = None
    """CPU time the runtime used for the invocation, as it measured it (user + system, with reaped children)."""


class Environment:
    def __init__(
        self,
        env_id: str,
        key: str,
        config: FunctionConfig,
        code_dir: Path,
        opt_dir: Path,
        zygote: Zygote,
        sandbox: Sandbox,
        base_environment: dict[str, str],
        started_at: float,
        spare: Spare | None = None,
    ) -> None:
        """A new environment for `config`, in a sandbox prepared for it or in a spare's (which then becomes this
        environment: its id, sandbox and waiting process)."""
        if spare is not None:
            env_id = spare.env_id
        self.id = env_id
        self.key = key
        self.config = config
        self.zygote = zygote
        self.sandbox = sandbox
        self.state = EnvironmentState.COLD
        self.log_stream = time.strftime("%Y/%m/%d/", time.gmtime(started_at)) + f"[{config.version}]{env_id}"
        self.last_used = time.monotonic()
        self.handle: SandboxHandle = spare.handle if spare is not None else sandbox.prepare(env_id)
        sandbox.assign(self.handle, config, code_dir, opt_dir, zygote.readable_paths)
        self._spare = spare
        self.provisioned = False
        """Kept warm by a provisioned concurrency configuration (the pool never reaps it)."""
        self.pid: int | None = None
        self._tmp_bytes: int | None = None
        self._tmp_measured = 0.0
        self._exit_status: int | None = None
        self._base_environment = base_environment
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._log_fd: int | None = None
        self._log = bytearray()
        self._log_dropped = 0

    # the runtime process

    def assignment(self) -> dict[str, Any]:
        """What the runtime needs to know about its function (the child's `confine` and `run_environment`)."""
        config = self.config
        environment = {
            **self._base_environment,
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": self.handle.task_root,
            **(config.environment or {}),
        }
        if self.handle.tmp_dir != "/tmp":
            environment.setdefault("TMPDIR", self.handle.tmp_dir)
        return {
            "handler": config.handler,
            "environment": environment,
            "extra_paths": [
                f"{self.handle.opt_root}/python/lib/python{config.runtime.removeprefix('python')}/site-packages",
                f"{self.handle.opt_root}/python",
            ],
            "sandbox": self.handle.assignment,
            "context": {
                "function_name": config.name,
                "function_version": config.version,
                "memory_limit_in_mb": config.memory_size,
                "log_group_name": environment["AWS_LAMBDA_LOG_GROUP_NAME"],
                "log_stream_name": self.log_stream,
            },
        }

    async def start(self) -> None:
        """Start a runtime in the sandbox: give the spare its function, or fork one from the zygote (the state
        becomes `initializing`)."""
        self._exit_status = None
        spare, self._spare = self._spare, None
        if spare is not None:
            self.pid = spare.pid
            ours, log_read = spare.sock, spare.log_fd
            frame = json.dumps({"type": "assign", "assignment": self.assignment()}, separators=(",", ":")).encode()
            with contextlib.suppress(OSError):  # a spare that died is found out at INIT, like any crash
                ours.sendall(FRAME.pack(len(frame), 0) + frame)
        else:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            log_read, log_write = os.pipe()
            document = {"env_id": self.id, "sandbox": self.handle.document, "assignment": self.assignment()}
            try:
                self.pid = await self.zygote.spawn(document, theirs.fileno(), log_write)
            except BaseException:
                ours.close()
                os.close(log_read)
                raise
            finally:
                theirs.close()
                os.close(log_write)
        os.set_blocking(log_read, False)
        self._log_fd = log_read
        asyncio.get_running_loop().add_reader(log_read, self._read_log)
        self._reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        self.state = EnvironmentState.INITIALIZING

    async def initialize(self, limit: float) -> InitOutcome:
        started = time.perf_counter()
        try:
            header, payload = await self._answer(limit)
        except TimeoutError:
            await self.kill()
            return InitOutcome(False, (time.perf_counter() - started) * 1000, timed_out=True)
        except RuntimeGone:
            status = await self.exit_status()
            return InitOutcome(False, (time.perf_counter() - started) * 1000, exit_status=status)
        if header["type"] == "ready":
            self.state = EnvironmentState.READY
            self.sandbox.initialized(self.handle)
            return InitOutcome(True, float(header["init_ms"]))
        status = await self.exit_status()
        await self._close_process()
        return InitOutcome(False, (time.perf_counter() - started) * 1000, error=payload, exit_status=status)

    async def invoke(self, header: dict[str, Any], payload: bytes, limit: float) -> Answer:
        """Send one invocation and wait for its answer. Raises TimeoutError (the runtime is then killed) or
        RuntimeGone."""
        assert self._writer is not None
        self.state = EnvironmentState.BUSY
        write_frame(self._writer, header, payload)
        try:
            reply, body = await self._answer(limit)
        except TimeoutError:
            await self.kill()
            raise
        self.state = EnvironmentState.READY
        return Answer(reply["type"], body, reply.get("cpu_ms"))

    async def _answer(self, limit: float) -> tuple[dict[str, Any], bytes]:
        assert self._reader is not None
        try:
            async with asyncio.timeout(limit):
                return await read_frame(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self._close_process()
            raise RuntimeGone from exc

    async def exit_status(self) -> int | None:
        """The runtime's wait status once it has exited (None if the zygote did not report it in time)."""
        if self.pid is None:
            return self._exit_status
        status = None
        with contextlib.suppress(TimeoutError):
            status = await asyncio.wait_for(asyncio.shield(self.zygote.wait_exit(self.pid)), EXIT_STATUS_WAIT)
        self.zygote.forget(self.pid)
        self.pid = None
        self._exit_status = status
        return status

    async def kill(self) -> None:
        """Kill the runtime and everything it started; the environment becomes `cold` (reset)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            await self.exit_status()
        await self._close_process()
        self.sandbox.reset(self.handle)

    async def _close_process(self) -> None:
        self._drain_log()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
        if self._log_fd is not None:
            asyncio.get_running_loop().remove_reader(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = None
        if self.state is not EnvironmentState.DEAD:
            self.state = EnvironmentState.COLD

    async def retire(self, grace: float) -> None:
        """SHUTDOWN: SIGTERM, up to `grace` seconds, SIGKILL; then release the sandbox."""
        self.state = EnvironmentState.DEAD
        if self.pid is not None and self._writer is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.zygote.wait_exit(self.pid)), grace)
        await self.kill()
        self.sandbox.release(self.handle)

    def peak_memory_mb(self) -> int:
        return self.sandbox.peak_memory_mb(self.handle, self.pid)

    def tmp_bytes(self) -> int | None:
        """Bytes in use in /tmp, measured at most every `TMP_SAMPLE_SECONDS` (a statvfs costs a busy function a few
        per cent of its throughput if made on every invocation)."""
        now = time.monotonic()
        if now - self._tmp_measured >= TMP_SAMPLE_SECONDS:
            self._tmp_measured = now
            self._tmp_bytes = self.sandbox.tmp_bytes(self.handle)
        return self._tmp_bytes

    # output

    def _read_log(self) -> None:
        assert self._log_fd is not None
        while True:
            try:
                chunk = os.read(self._log_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                asyncio.get_running_loop().remove_reader(self._log_fd)
                return
            room = MAX_LOG_BYTES - len(self._log)
            if room > 0:
                self._log += chunk[:room]
            self._log_dropped += max(0, len(chunk) - max(room, 0))

    def _drain_log(self) -> None:
        if self._log_fd is not None:
            self._read_log()

    def take_output(self) -> str:
        """Everything the runtime printed since the last call, as text."""
        self._drain_log()
        text = self._log.decode("utf-8", "replace")
        if self._log_dropped:
            text += f"[firebox: {self._log_dropped} more bytes of output were dropped]\n"
        self._log.clear()
        self._log_dropped = 0
        return text
