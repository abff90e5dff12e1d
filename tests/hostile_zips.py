"""Builders for hostile zip archives, shared by the unit and functional archive tests."""

from __future__ import annotations

import io
import stat
import zipfile


def archive(*entries: tuple[str, bytes | str, int]) -> bytes:
    """Entries of (name, content, st_mode); st_mode S_IFLNK makes a symbolic link whose target is the content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buffer.getvalue()


def file(name: str, content: bytes | str = b"x", perms: int = 0o644) -> tuple[str, bytes | str, int]:
    return (name, content, stat.S_IFREG | perms)


def link(name: str, target: str) -> tuple[str, bytes | str, int]:
    return (name, target, stat.S_IFLNK | 0o777)


def inflating(size: int) -> bytes:
    """A small archive whose one entry inflates to `size` bytes of zeros."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("big.bin", "w") as out,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            out.write(chunk)
        out.write(b"\0" * (size % len(chunk)))
    return buffer.getvalue()


def many_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            zf.writestr(f"f/{i}", b"")
    return buffer.getvalue()


def lying_about_size(real: bytes, declared: int) -> bytes:
    """One entry whose central directory claims `declared` uncompressed bytes while the data holds `real`."""
    data = bytearray(archive(file("liar.bin", real)))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = declared.to_bytes(4, "little")
    local = data.index(b"PK\x03\x04")
    data[local + 22 : local + 26] = declared.to_bytes(4, "little")
    return bytes(data)
