"""Sandbox backends, chosen by name in exactly one place: `create_sandbox(settings.sandbox, ...)`.

- `process`: anywhere; own session and rlimits only (says so at start).
- `linux`: root on Linux with cgroups: namespaces, cgroup limits, read-only code, private /tmp, unprivileged uid.
- `auto`: `linux` when it can be used, else `process`.
"""

from __future__ import annotations

from pathlib import Path

from firebox.dataplane.sandbox.base import Sandbox, SandboxHandle
from firebox.dataplane.sandbox.process import ProcessSandbox

__all__ = ["Sandbox", "SandboxHandle", "create_sandbox"]


def create_sandbox(name: str, envs_dir: Path) -> Sandbox:
    if name == "process":
        return ProcessSandbox(envs_dir)
    if name in ("linux", "auto"):
        from firebox.dataplane.sandbox import linux

        problem = linux.unavailable_reason()
        if problem is None:
            return linux.LinuxSandbox(envs_dir)
        if name == "linux":
            raise RuntimeError(f"the linux sandbox cannot be used here: {problem}")
        return ProcessSandbox(envs_dir)
    raise ValueError(f"unknown sandbox {name!r}: choose auto, linux or process")
