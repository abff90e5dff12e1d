"""The packages Lambda's Python runtime ships beside the standard library (boto3 and what it needs), made
available to environments the way Lambda makes them available: after the function's code and layers on sys.path,
so a function that bundles its own boto3 uses its own.

They are pure Python, so one copy serves every python3.X runtime. It must be readable from inside a sandbox,
where /tmp is the environment's own and private directories are hidden, wherever Firebox itself is installed:

- as root, the packages are copied once per set of versions to `/var/lib/firebox/runtime-python/<digest>`;
- otherwise (the `process` sandbox, which hides nothing) they are linked from Firebox's own installation into
  `<prefix>/share/firebox/runtime-python`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

SHIPPED = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "dateutil": "python-dateutil",
    "urllib3": "urllib3",
    "six": "six",
}
"""Import name → distribution name."""
SYSTEM_LOCATION = Path("/var/lib/firebox/runtime-python")
USER_LOCATION = Path(sys.prefix) / "share" / "firebox" / "runtime-python"


def _sources() -> dict[str, Path]:
    found = {}
    for name in SHIPPED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        found[name] = origin.parent if origin.name == "__init__.py" else origin
    return found


def prepare() -> Path:
    """The directory to put on the runtimes' sys.path, made current."""
    sources = _sources()
    if os.geteuid() == 0:
        return _copy(sources, SYSTEM_LOCATION)
    return _link(sources, USER_LOCATION)


def _copy(sources: dict[str, Path], base: Path) -> Path:
    versions = []
    for name in sorted(sources):
        try:
            versions.append(f"{name}=={importlib.metadata.version(SHIPPED[name])}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}@{sources[name]}")
    target = base / hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]
    if target.is_dir():
        return target
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base.parent, 0o755)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
    os.chmod(staging, 0o755)
    for source in sources.values():
        if source.is_dir():
            shutil.copytree(source, staging / source.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, staging / source.name)
    try:
        os.rename(staging, target)
    except OSError:  # another server made it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _link(sources: dict[str, Path], directory: Path) -> Path:
    """Safe with several servers at once: each link is replaced atomically, never removed first."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in sources.values():
        link = directory / source.name
        if link.is_symlink() and os.readlink(link) == str(source):
            continue
        temporary = directory / f".{source.name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(source)
        os.replace(temporary, link)
    return directory
