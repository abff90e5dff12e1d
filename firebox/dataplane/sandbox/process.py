"""The `process` sandbox: works anywhere, isolates little.

Each environment runs in its own session (so the whole process group can be killed), with 1,024 open files and a
private temporary directory exposed as TMPDIR. It does not limit memory or CPU, does not hide other processes or
files, and a handler writing to the literal path /tmp writes to the host's /tmp. Use `linux` for isolation.
"""

from __future__ import annotations

import re
from pathlib import Path

from firebox.dataplane.sandbox.base import SandboxHandle
from firebox.models.function import FunctionConfig
from firebox.store.code_files import remove_tree

_VM_HWM = re.compile(rb"^VmHWM:\s+(\d+) kB", re.MULTILINE)


class ProcessSandbox:
    name = "process"
    description = (
        "process sandbox: own session and rlimits per environment; NO memory/CPU limits, NO namespaces, "
        "/tmp is shared with the host (TMPDIR is private)"
    )

    def __init__(self, envs_dir: Path) -> None:
        self.envs_dir = envs_dir

    def prepare(self, env_id: str) -> SandboxHandle:
        root = self.envs_dir / env_id
        tmp = root / "tmp"
        tmp.mkdir(parents=True)
        return SandboxHandle(
            document={"kind": "process", "nofile": 1024},
            task_root="",
            tmp_dir=str(tmp),
            host_paths=[root],
        )

    def assign(
        self, handle: SandboxHandle, config: FunctionConfig, code_dir: Path, opt_dir: Path, readable: list[str]
    ) -> None:
        handle.task_root = str(code_dir)
        handle.opt_root = str(opt_dir)
        handle.assignment = {}

    def peak_memory_mb(self, handle: SandboxHandle, pid: int | None) -> int:
        if pid is None:
            return 0
        try:
            status = Path(f"/proc/{pid}/status").read_bytes()
        except OSError:
            return 0
        match = _VM_HWM.search(status)
        return int(match.group(1)) // 1024 if match else 0

    def tmp_bytes(self, handle: SandboxHandle) -> int | None:
        return None  # a plain directory on a shared filesystem: only a walk would tell

    def out_of_memory(self, handle: SandboxHandle) -> bool:
        return False

    def initialized(self, handle: SandboxHandle) -> None:
        return None

    def reset(self, handle: SandboxHandle) -> None:
        return None

    def release(self, handle: SandboxHandle) -> None:
        for path in handle.host_paths:
            remove_tree(path)
