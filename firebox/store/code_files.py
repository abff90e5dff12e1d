"""Code archives on disk, addressed by content.

    <data-dir>/code/archives/<sha256>.zip   the archive as uploaded (served back by GetFunction's Code.Location)
    <data-dir>/code/unpacked/<sha256>/      its contents, unpacked once and made read-only
    <data-dir>/code/staging/                work space; whatever is there at start is debris and is removed

An archive is unpacked into `staging/` first and moved into place with one rename, so `unpacked/<sha256>` is either
complete or absent. What goes into the archive (and whether it is safe) is the control plane's business.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class CodeFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.archives = root / "archives"
        self.unpacked = root / "unpacked"
        self.staging_root = root / "staging"
        for directory in (self.archives, self.unpacked, self.staging_root):
            directory.mkdir(parents=True, exist_ok=True)
        for debris in self.staging_root.iterdir():
            remove_tree(debris)

    def archive_path(self, sha256: str) -> Path:
        return self.archives / f"{sha256}.zip"

    def unpacked_path(self, sha256: str) -> Path:
        return self.unpacked / sha256

    def has(self, sha256: str) -> bool:
        return self.archive_path(sha256).is_file() and self.unpacked_path(sha256).is_dir()

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh empty directory, removed with whatever is left in it when the block ends."""
        path = Path(tempfile.mkdtemp(prefix="unpack-", dir=self.staging_root))
        try:
            yield path
        finally:
            remove_tree(path)

    def commit(self, sha256: str, data: bytes, staged: Path) -> None:
        """Make `data` and its unpacked tree `staged` the stored copy of `sha256`. Idempotent."""
        archive = self.archive_path(sha256)
        if not archive.exists():
            fd, tmp = tempfile.mkstemp(prefix="zip-", dir=self.staging_root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o444)
            os.replace(tmp, archive)
        target = self.unpacked_path(sha256)
        if not target.exists():
            os.rename(staged, target)

    def layer_set_path(self, sha256s: Sequence[str]) -> Path:
        """Where the merged /opt of these layers (in this order) is kept."""
        digest = hashlib.sha256("\n".join(sha256s).encode()).hexdigest()[:32]
        return self.root / "layersets" / digest

    def layer_set(self, sha256s: Sequence[str]) -> Path:
        """The merged /opt of these unpacked layers, built once: each layer's files in order, a later layer's file
        replacing an earlier one's at the same path. Files are hard links to the read-only unpacked layers."""
        target = self.layer_set_path(sha256s)
        if target.is_dir():
            return target
        target.parent.mkdir(exist_ok=True)
        with self.staging() as staged:
            merged = staged / "opt"
            merged.mkdir()
            for sha256 in sha256s:
                _merge_into(self.unpacked_path(sha256), merged)
            for directory, dirnames, _ in os.walk(merged):
                for name in dirnames:
                    os.chmod(os.path.join(directory, name), 0o555)
            os.chmod(merged, 0o555)
            try:
                os.rename(merged, target)
            except OSError:  # built meanwhile by another request: theirs is the same
                pass
        return target

    def remove(self, sha256: str) -> None:
        self.archive_path(sha256).unlink(missing_ok=True)
        remove_tree(self.unpacked_path(sha256))


def _merge_into(source: Path, merged: Path) -> None:
    for directory, dirnames, filenames in os.walk(source):
        relative = os.path.relpath(directory, source)
        destination = merged / relative
        for name in dirnames:
            path = destination / name
            if (source / relative / name).is_symlink():
                filenames.append(name)
                continue
            if path.exists() and not path.is_dir() or path.is_symlink():
                path.unlink()
            path.mkdir(exist_ok=True)
        for name in filenames:
            path = destination / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                remove_tree(path)
            origin = source / relative / name
            if origin.is_symlink():
                os.symlink(os.readlink(origin), path)
            else:
                os.link(origin, path)


def remove_tree(path: Path) -> None:
    """Remove a file or a tree, read-only parts included; never follows symbolic links."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return

    def make_writable_and_retry(func: Callable[..., Any], failed: str, _exc: Any) -> None:
        parent = os.path.dirname(failed)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        func(failed)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
