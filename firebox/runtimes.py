"""Which Lambda runtimes this host can run, and with which interpreter.

`python3.X` is available when a working Python 3.X interpreter is found (on PATH, in the usual system places or
under pyenv), or when the settings map the name to an interpreter explicitly. Discovery runs once, at start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_PYTHON_NAME = re.compile(r"^python3\.(\d{1,2})$")
_MINORS = range(9, 20)
"""python3.9 and newer: the oldest the runtime bootstrap (and boto3) support."""


def discover(configured: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Runtime name → absolute interpreter path, sorted by runtime name. Configured entries win."""
    found: dict[str, str] = {}
    candidates: dict[str, list[str]] = {}
    for minor in _MINORS:
        name = f"python3.{minor}"
        candidates[name] = _candidates(name, environ)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda item: (item[0], _first_working(item[0], item[1])), candidates.items())
        for name, path in results:
            if path:
                found[name] = path
    found.update(configured)
    return dict(sorted(found.items(), key=lambda kv: _sort_key(kv[0])))


def _sort_key(name: str) -> tuple[str, int]:
    match = re.match(r"^(\D+)(\d+)\.(\d+)$", name)
    return (match.group(1), int(match.group(3))) if match else (name, 0)


def _candidates(name: str, environ: Mapping[str, str]) -> list[str]:
    paths: list[str] = []
    for directory in environ.get("PATH", os.defpath).split(os.pathsep):
        if directory and "shims" not in Path(directory).parts:
            paths.append(os.path.join(directory, name))
    paths += [f"/usr/bin/{name}", f"/usr/local/bin/{name}"]
    pyenv_root = Path(environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = pyenv_root / "versions"
    if versions.is_dir():
        minor = name.removeprefix("python")
        for entry in sorted(versions.iterdir(), reverse=True):
            if entry.name.startswith(minor + "."):
                paths.append(str(entry / "bin" / name))
    return list(dict.fromkeys(p for p in paths if os.access(p, os.X_OK)))


def _first_working(name: str, paths: list[str]) -> str | None:
    minor = name.removeprefix("python3.")
    for path in paths:
        try:
            out = subprocess.run(
                [path, "-c", "import sys; print(sys.version_info[1])"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == minor:
            return shutil.which(path) or path
    return None


def is_python_runtime(name: str) -> bool:
    return bool(_PYTHON_NAME.match(name))
