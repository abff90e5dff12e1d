"""Unpacking untrusted zip archives safely.

The archive is hostile until proven otherwise. `unpack` refuses, before or while writing and always inside the
destination directory it was given:

- archives that are not zips, or whose entries are corrupt, encrypted or use an unknown compression;
- more entries than the limit (entry-count bombs), checked before anything is written;
- absolute names, `..` components, NUL bytes and duplicate names;
- symbolic links that are absolute or that resolve outside the root (checked after all links exist, so chains
  of links are judged by where they really lead); regular files are written before any link is created, with
  O_NOFOLLOW and O_EXCL, so no write ever goes through a link;
- more unzipped bytes than the limit, counted from the bytes actually written, never from the sizes the archive
  declares (those are only used to fail fast).

Permissions keep only the owner/group/other read and execute bits: setuid, setgid and sticky bits are dropped.
When it returns, the tree is read-only. On any refusal the caller removes the destination.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from firebox.errors import InvalidParameterValueException

MAX_UNZIPPED_BYTES = 262_144_000
MAX_LINK_TARGET = 4096
_CHUNK = 1 << 16
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
TOO_BIG = f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_entries: int
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES


class UnsafeArchive(InvalidParameterValueException):
    """An archive refused for its content; the message starts with AWS's text and says why."""


def refuse(reason: str) -> UnsafeArchive:
    return UnsafeArchive(f"{BAD_ZIP} ({reason})")


def unpack(data: bytes, dest: Path, limits: ArchiveLimits) -> int:
    """Unpack zip `data` into the empty directory `dest`; return the unzipped size in bytes."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise refuse("not a zip archive") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise refuse(f"{len(entries)} entries, more than the limit of {limits.max_entries}")
        if sum(e.file_size for e in entries) > limits.max_unzipped_bytes:
            raise UnsafeArchive(TOO_BIG)
        try:
            return _extract(archive, entries, dest, limits)
        except (
            zipfile.BadZipFile,
            NotImplementedError,
            RuntimeError,
            EOFError,
            zlib.error,
            ValueError,
        ) as exc:
            raise refuse(f"unreadable entry: {exc}") from None


def _extract(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], dest: Path, limits: ArchiveLimits) -> int:
    root = os.path.realpath(dest)
    total = 0
    seen: set[tuple[str, ...]] = set()
    links: list[tuple[str, str]] = []
    for entry in entries:
        parts = _safe_parts(entry.filename)
        if not parts:
            continue
        mode = entry.external_attr >> 16
        is_dir = entry.is_dir() or stat.S_ISDIR(mode)
        if parts in seen and not is_dir:
            raise refuse(f"duplicate entry {entry.filename!r}")
        seen.add(parts)
        path = os.path.join(root, *parts)
        try:
            if is_dir:
                os.makedirs(path, mode=0o755, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if stat.S_ISLNK(mode):
                raw_target = archive.open(entry).read(MAX_LINK_TARGET + 1)
                if len(raw_target) > MAX_LINK_TARGET or b"\0" in raw_target:
                    raise refuse(f"symbolic link {entry.filename!r} has an invalid target")
                total += len(raw_target)
                links.append((path, raw_target.decode("utf-8", "surrogateescape")))
                continue
            total = _write_file(archive, entry, path, _permissions(mode), total, limits.max_unzipped_bytes)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise refuse(f"entry {entry.filename!r} conflicts with another entry") from None
        except OSError as exc:
            if exc.errno in (28, 122):  # ENOSPC, EDQUOT: our disk, not the user's archive
                raise
            raise refuse(f"entry {entry.filename!r} cannot be written: {exc.strerror}") from None
    for path, target in links:
        if os.path.isabs(target):
            raise refuse(f"symbolic link {os.path.relpath(path, root)!r} points to an absolute path")
        try:
            os.symlink(target, path)
        except FileExistsError:
            raise refuse(f"symbolic link {os.path.relpath(path, root)!r} conflicts with another entry") from None
    for path, _ in links:
        resolved = os.path.realpath(path)
        if resolved != root and not resolved.startswith(root + os.sep):
            raise refuse(f"symbolic link {os.path.relpath(path, root)!r} points outside the archive")
    _make_read_only(root)
    return total


def _safe_parts(name: str) -> tuple[str, ...]:
    if "\0" in name:
        raise refuse("entry name contains a NUL byte")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise refuse(f"absolute path {name!r}")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise refuse(f"path {name!r} leaves the archive root")
    return parts


def _permissions(mode: int) -> int:
    """Read for everyone, execute where the archive asked for any; nothing else survives."""
    return 0o755 if mode & 0o111 else 0o644


def _write_file(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, path: str, perms: int, total: int, limit: int) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perms)
    with os.fdopen(fd, "wb") as out, archive.open(entry) as src:
        while chunk := src.read(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise UnsafeArchive(TOO_BIG)
            out.write(chunk)
    return total


def _make_read_only(root: str) -> None:
    for directory, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & 0o555)
        for name in dirnames:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, 0o555)
    os.chmod(root, 0o555)
