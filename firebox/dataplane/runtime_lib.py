"""The packages Lambda's Python runtime ships beside the standard library (boto3 and what it needs), made
available to environments the way Lambda makes them available: after the function's code and layers on sys.path,
so a function that bundles its own boto3 uses its own.

Firebox links them from its own installation into one directory, which every runtime's zygote puts on sys.path.
They are pure Python, so one copy serves every python3.X runtime.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

SHIPPED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def prepare(directory: Path) -> Path:
    """(Re)build the link farm in `directory` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        if entry.is_symlink():
            entry.unlink()
    for name in SHIPPED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory
