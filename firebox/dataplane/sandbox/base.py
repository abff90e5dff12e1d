"""What a sandbox backend provides. The in-sandbox half lives in bootstrap/runtime.py (`isolate`, `confine`); the
backend prepares the host side (directories, cgroups, mounts) and describes it in the spawn document."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from firebox.models.function import FunctionConfig


@dataclass
class SandboxHandle:
    """One environment's sandbox: what the child applies, and the host resources to release at retirement."""

    document: dict[str, Any]
    """The function-independent part, applied by the child's `isolate` (a spare applies it ahead of time)."""
    task_root: str
    """Where the code is, as the handler sees it (LAMBDA_TASK_ROOT)."""
    tmp_dir: str
    """Where /tmp is, as the handler sees it."""
    opt_root: str = "/opt"
    """Where the function's layers are, as the handler sees them."""
    assignment: dict[str, Any] = field(default_factory=dict)
    """The function's part, applied by the child's `confine`; filled in by `Sandbox.assign`."""
    host_paths: list[Path] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)
    peak_fd: int | None = None
    """An open descriptor on the memory peak counter (linux)."""
    cpu_quota_us: int = 0
    """A CPU quota still to apply once the first INIT is done (linux), per `cpu_period_us`."""
    cpu_period_us: int = 0


class Sandbox(Protocol):
    name: str
    description: str
    """A sentence for the start-up banner: what this backend isolates and what it does not."""

    def prepare(self, env_id: str) -> SandboxHandle:
        """Set up the function-independent host side of a new environment (done ahead of time for spares)."""
        ...

    def assign(
        self, handle: SandboxHandle, config: FunctionConfig, code_dir: Path, opt_dir: Path, readable: list[str]
    ) -> None:
        """Fit a prepared sandbox to a function: its limits, its code, its layers (`opt_dir`, merged), its /tmp
        size. `readable`: paths the runtime must be able to read (its interpreter's prefix, the runtime library)."""
        ...

    def peak_memory_mb(self, handle: SandboxHandle, pid: int | None) -> int:
        """The most memory the environment has used, in MB (0 if unknown)."""
        ...

    def tmp_bytes(self, handle: SandboxHandle) -> int | None:
        """Bytes in use in the environment's /tmp (None where that cannot be measured cheaply)."""
        ...

    def out_of_memory(self, handle: SandboxHandle) -> bool:
        """True if the environment's memory limit was hit (its processes were killed for it)."""
        ...

    def initialized(self, handle: SandboxHandle) -> None:
        """The runtime finished its first INIT: apply limits that INIT runs without (the CPU quota)."""
        ...

    def reset(self, handle: SandboxHandle) -> None:
        """Between a killed runtime and the next one in the same environment (/tmp is kept)."""
        ...

    def release(self, handle: SandboxHandle) -> None: ...
