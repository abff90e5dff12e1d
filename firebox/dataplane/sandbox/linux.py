"""The `linux` sandbox: real isolation without containers, for a server running as root.

Per environment, prepared here on the host:
- cgroups (v1 or v2): memory limited to MemorySize (swap included where the host accounts it), CPU quota
  proportional to memory (1 vCPU at 1,769 MB, capped at the host's cores) from the end of the first INIT on (INIT
  runs unthrottled, as Lambda boosts it), at most 1,024 processes;
- a tmpfs of EphemeralStorage size that becomes the environment's /tmp and outlives runtime resets;
- an unprivileged uid of its own.

Applied in the child by bootstrap/runtime.py (`isolate`, then `confine` once assigned): join the cgroups, new
mount/pid/ipc/uts namespaces, the code bound read-only at /var/task, the tmpfs at /tmp, a fresh /proc showing only
the environment's processes, directories the runtime needs re-exposed under a tmpfs where their parents are
private (/root), then the uid, no_new_privs and 1,024 open files. The data directory is traversable but not
listable, and code, environments and the database are private to root, so a handler cannot read another function's
code or /tmp.

Known gaps: no seccomp filter yet; the host network is shared (Lambda allows outbound traffic too); tmpfs pages
count against the memory limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import logging
import math
import os
import stat
from pathlib import Path

from firebox.dataplane.sandbox.base import SandboxHandle
from firebox.models.function import FunctionConfig
from firebox.store.code_files import remove_tree

log = logging.getLogger("firebox.dataplane")

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "firebox"
MB_PER_VCPU = 1769
MIN_CPU_PERIOD_US = 5_000
MIN_CPU_QUOTA_US = 1_000
"""The kernel's smallest CFS quota. The period is the shortest that keeps the quota at or above it, so a function's
CPU share comes in small slices: at 128 MB (0.072 vCPU) 1 ms every 13.8 ms rather than 7.2 ms every 100 ms, which
keeps the longest stall of a throttled invocation near 13 ms instead of 93 ms, at the same share."""
PIDS_MAX = 1024
UID_BASE = 200_000
UID_RANGE = 60_000
TASK_ROOT = "/var/task"
DEFAULT_TMP_MB = 512
_MNT_DETACH = 2
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32


def unavailable_reason() -> str | None:
    """Why this host cannot use the linux sandbox, or None if it can."""
    if os.uname().sysname != "Linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "it needs root (run as root, or use --sandbox process)"
    if _cgroup_version() is None:
        return "no writable memory cgroup controller"
    return None


def _cgroup_version() -> int | None:
    v2 = CGROUP_ROOT / "cgroup.controllers"
    if v2.exists() and "memory" in v2.read_text().split() and os.access(CGROUP_ROOT, os.W_OK):
        return 2
    if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists() and os.access(CGROUP_ROOT / "memory", os.W_OK):
        return 1
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class LinuxSandbox:
    name = "linux"
    description = (
        "linux sandbox: cgroups (memory, CPU, pids), mount/pid/ipc/uts namespaces, read-only code, "
        "private /tmp, unprivileged uid, no_new_privs"
    )

    def __init__(self, envs_dir: Path) -> None:
        self.envs_dir = envs_dir
        self.version = _cgroup_version() or 1
        self._uids = itertools.cycle(range(UID_BASE, UID_BASE + UID_RANGE))
        self._oom_seen: dict[str, int] = {}
        self._libc = _libc()
        Path(TASK_ROOT).mkdir(parents=True, exist_ok=True)
        self._protect(envs_dir)
        self._clean_leftovers()

    def _protect(self, envs_dir: Path) -> None:
        """The data directory: traversable (the runtime library is inside) but not listable; the rest root-only."""
        data_dir = envs_dir.parent
        envs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o711)
        for private in (envs_dir, data_dir / "code"):
            if private.exists():
                os.chmod(private, 0o700)
        for path in data_dir.glob("firebox.db*"):
            os.chmod(path, 0o600)

    def _clean_leftovers(self) -> None:
        """Unmount the /tmp filesystems and remove the cgroups a previous, killed server left behind."""
        prefix = str(self.envs_dir.resolve()) + "/"
        with open("/proc/self/mounts") as mounts:
            targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
        for target in sorted(targets, reverse=True):
            self._libc.umount2(target.encode(), _MNT_DETACH)
        for base in self._cgroup_bases():
            if base.is_dir():
                for child in base.iterdir():
                    if child.is_dir():
                        with contextlib.suppress(OSError):
                            child.rmdir()

    def _cgroup_bases(self) -> list[Path]:
        if self.version == 2:
            return [CGROUP_ROOT / GROUP]
        return [CGROUP_ROOT / controller / GROUP for controller in ("memory", "cpu", "pids")]

    def prepare(self, env_id: str) -> SandboxHandle:
        root = self.envs_dir / env_id
        tmp = root / "tmp"
        tmp.mkdir(parents=True)
        handle = SandboxHandle(document={}, task_root=TASK_ROOT, tmp_dir="/tmp", host_paths=[root])
        try:
            self._mount_tmp(tmp, DEFAULT_TMP_MB, remount=False)
            handle.mounts.append(tmp)
            handle.cgroups = self._make_cgroups(env_id)
            handle.document = {
                "kind": "linux",
                "nofile": 1024,
                "cgroup_procs": [str(group / "cgroup.procs") for group in handle.cgroups],
            }
        except BaseException:
            self.release(handle)
            raise
        return handle

    def assign(
        self, handle: SandboxHandle, config: FunctionConfig, code_dir: Path, opt_dir: Path, readable: list[str]
    ) -> None:
        memory = str(config.memory_size * 1024 * 1024)
        if self.version == 2:
            (handle.cgroups[0] / "memory.max").write_text(memory)
        else:
            (handle.cgroups[0] / "memory.limit_in_bytes").write_text(memory)
            with contextlib.suppress(OSError):
                (handle.cgroups[0] / "memory.memsw.limit_in_bytes").write_text(memory)
        if config.ephemeral_storage != DEFAULT_TMP_MB:
            self._mount_tmp(handle.mounts[0], config.ephemeral_storage, remount=True)
        vcpus = min(config.memory_size / MB_PER_VCPU, float(os.cpu_count() or 1))
        handle.cpu_period_us = max(MIN_CPU_PERIOD_US, math.ceil(MIN_CPU_QUOTA_US / vcpus))
        handle.cpu_quota_us = max(MIN_CPU_QUOTA_US, int(handle.cpu_period_us * vcpus))
        handle.assignment = {
            "uid": next(self._uids),
            "binds": [
                [str(code_dir), TASK_ROOT, True],
                [str(opt_dir), "/opt", True],
                [str(handle.mounts[0]), "/tmp", False],
            ],
            "reveal": self._reveal(readable),
        }

    def _mount_tmp(self, path: Path, size_mb: int, remount: bool) -> None:
        flags = _MS_NOSUID | _MS_NODEV | (_MS_REMOUNT if remount else 0)
        options = f"size={size_mb}m,mode=1777".encode()
        if self._libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", flags, options) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mounting the /tmp at {path}: {os.strerror(err)}")

    def _make_cgroups(self, env_id: str) -> list[Path]:
        """The environment's cgroups, limited to PIDS_MAX processes; memory and CPU are set by `assign`."""
        if self.version == 2:
            group = CGROUP_ROOT / GROUP / env_id
            (CGROUP_ROOT / GROUP).mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                (CGROUP_ROOT / GROUP / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            group.mkdir()
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
            (group / "pids.max").write_text(str(PIDS_MAX))
            return [group]
        groups = []
        for controller in ("memory", "cpu", "pids"):
            group = CGROUP_ROOT / controller / GROUP / env_id
            group.mkdir(parents=True)
            groups.append(group)
        _, cpu_group, pids_group = groups
        (pids_group / "pids.max").write_text(str(PIDS_MAX))
        return groups

    def _reveal(self, readable: list[str]) -> list[list[object]]:
        """For paths the unprivileged runtime must read but whose parents are private (a pyenv under /root): cover
        the private ancestor with an empty tmpfs and bind the needed paths back into it."""
        covers: dict[str, list[str]] = {}
        for path in readable:
            resolved = os.path.realpath(path)
            parts = Path(resolved).parts
            for depth in range(2, len(parts)):
                ancestor = os.path.join(*parts[:depth])
                if ancestor == "/tmp":  # the environment's own /tmp is mounted there
                    break
                if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                    covers.setdefault(ancestor, []).append(resolved)
                    break
        return [[cover, sorted(set(paths))] for cover, paths in covers.items()]

    def peak_memory_mb(self, handle: SandboxHandle, pid: int | None) -> int:
        """Read on every invocation, so through a descriptor kept open for the environment's life."""
        if handle.peak_fd is None:
            if not handle.cgroups:
                return 0
            name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
            try:
                handle.peak_fd = os.open(handle.cgroups[0] / name, os.O_RDONLY)
            except OSError:
                return 0
        try:
            return int(os.pread(handle.peak_fd, 32, 0)) // (1024 * 1024)
        except (OSError, ValueError):
            return 0

    def tmp_bytes(self, handle: SandboxHandle) -> int | None:
        """The /tmp tmpfs's used blocks (one statvfs)."""
        if not handle.mounts:
            return None
        try:
            st = os.statvfs(handle.mounts[0])
        except OSError:
            return None
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def out_of_memory(self, handle: SandboxHandle) -> bool:
        if not handle.cgroups:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (handle.cgroups[0] / name).read_text()
        except OSError:
            return False
        kills = 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                kills = int(value)
        seen = self._oom_seen.get(str(handle.cgroups[0]), 0)
        self._oom_seen[str(handle.cgroups[0])] = kills
        return kills > seen

    def initialized(self, handle: SandboxHandle) -> None:
        if not handle.cpu_quota_us or not handle.cgroups:
            return
        if self.version == 2:
            (handle.cgroups[0] / "cpu.max").write_text(f"{handle.cpu_quota_us} {handle.cpu_period_us}")
        else:
            (handle.cgroups[1] / "cpu.cfs_period_us").write_text(str(handle.cpu_period_us))
            (handle.cgroups[1] / "cpu.cfs_quota_us").write_text(str(handle.cpu_quota_us))
        handle.cpu_quota_us = 0

    def reset(self, handle: SandboxHandle) -> None:
        return None

    def release(self, handle: SandboxHandle) -> None:
        if handle.peak_fd is not None:
            os.close(handle.peak_fd)
            handle.peak_fd = None
        for group in handle.cgroups:
            self._oom_seen.pop(str(group), None)
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    procs = (group / "cgroup.procs").read_text().split()
                    for pid in procs:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), 9)
                    os.sched_yield()
            else:
                log.warning("cgroup %s could not be removed", group)
        handle.cgroups = []
        handle.cpu_quota_us = 0
        for mount in handle.mounts:
            self._libc.umount2(str(mount).encode(), _MNT_DETACH)
        handle.mounts = []
        for path in handle.host_paths:
            remove_tree(path)
