"""The packages Lambda's Python runtime ships beside the standard library (boto3 and what it needs), made
available to environments the way Lambda makes them available: after the function's code and layers on sys.path,
so a function that bundles its own boto3 uses its own.

Firebox links them from its own installation into one directory inside that installation (so it is as readable
as the installation itself, also from inside a sandbox), which every runtime's zygote puts on sys.path. They are
pure Python, so one copy serves every python3.X runtime.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

SHIPPED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


DEFAULT_LOCATION = Path(sys.prefix) / "share" / "firebox" / "runtime-python"


def prepare(directory: Path = DEFAULT_LOCATION) -> Path:
    """Make the link farm in `directory` current and return it. Safe with several servers at once: each link is
    replaced atomically, never removed first."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = directory / source.name
        if link.is_symlink() and os.readlink(link) == str(source):
            continue
        temporary = directory / f".{source.name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(source)
        os.replace(temporary, link)
    return directory
