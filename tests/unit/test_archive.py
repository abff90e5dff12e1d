"""`firebox.control.archive.unpack` against hostile archives, directly on a temporary directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from firebox.control.archive import BAD_ZIP, TOO_BIG, ArchiveLimits, UnsafeArchive, unpack
from tests.hostile_zips import archive, file, inflating, link, lying_about_size, many_entries

LIMITS = ArchiveLimits(max_entries=1000, max_unzipped_bytes=1_000_000)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "root" / "unpacked"
    path.mkdir(parents=True)
    return path


def _refused(data: bytes, dest: Path, limits: ArchiveLimits = LIMITS) -> str:
    with pytest.raises(UnsafeArchive) as exc:
        unpack(data, dest, limits)
    return exc.value.message


def _written_outside(dest: Path) -> list[str]:
    parent = dest.parent
    return sorted(str(p.relative_to(parent)) for p in parent.rglob("*") if not p.is_relative_to(dest))


def test_ordinary_archive_unpacks_read_only(dest: Path) -> None:
    data = archive(file("app.py", "print(1)\n"), file("bin/tool", "#!/bin/sh\n", 0o755), file("pkg/__init__.py"))
    size = unpack(data, dest, LIMITS)
    assert size == len("print(1)\n") + len("#!/bin/sh\n") + 1
    assert (dest / "app.py").read_text() == "print(1)\n"
    assert stat.S_IMODE((dest / "bin/tool").stat().st_mode) == 0o555
    assert stat.S_IMODE((dest / "app.py").stat().st_mode) == 0o444
    assert stat.S_IMODE((dest / "pkg").stat().st_mode) == 0o555


def test_setuid_setgid_and_sticky_bits_are_dropped(dest: Path) -> None:
    unpack(archive(file("suid", "x", 0o6755 | stat.S_ISVTX)), dest, LIMITS)
    assert stat.S_IMODE((dest / "suid").stat().st_mode) == 0o555


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (file("../evil.py"), "leaves the archive root"),
        (file("a/../../evil.py"), "leaves the archive root"),
        (file("/tmp/firebox-evil-absolute.py"), "absolute path"),
        (link("escape", "/etc"), "points to an absolute path"),
        (link("escape", "../../../../etc/passwd"), "points outside the archive"),
    ],
)
def test_escapes_are_refused(dest: Path, entry: tuple[str, bytes | str, int], reason: str) -> None:
    message = _refused(archive(file("app.py"), entry), dest)
    assert message.startswith(BAD_ZIP) and reason in message
    assert _written_outside(dest) == []
    assert not Path("/tmp/firebox-evil-absolute.py").exists()


def test_link_chains_are_judged_by_where_they_really_lead(dest: Path) -> None:
    # Each link looks harmless on its own: sub/q -> .. is the root, and sub/p -> q/.. reads as sub. Followed for real,
    # sub/p is root/.. and leaves the archive.
    message = _refused(archive(file("sub/x"), link("sub/q", ".."), link("sub/p", "q/..")), dest)
    assert "points outside the archive" in message


def test_no_write_goes_through_a_link(dest: Path) -> None:
    message = _refused(archive(link("d", "."), file("d/../../evil.py")), dest)
    assert "leaves the archive root" in message
    message = _refused(archive(link("lib", "sub"), file("lib/x")), dest)
    assert "conflicts" in message
    assert _written_outside(dest) == []


def test_links_inside_the_archive_are_kept(dest: Path) -> None:
    unpack(
        archive(file("lib/libx.so.1", "elf"), link("lib/libx.so", "libx.so.1"), link("top", "lib/libx.so")),
        dest,
        LIMITS,
    )
    assert os.readlink(dest / "lib/libx.so") == "libx.so.1"
    assert (dest / "top").read_text() == "elf"


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_duplicate_entries_are_refused(dest: Path) -> None:
    assert "duplicate entry" in _refused(archive(file("a.py", "1"), file("a.py", "2")), dest)


def test_size_bomb_is_refused_before_writing_it(dest: Path) -> None:
    assert _refused(inflating(2_000_000), dest) == TOO_BIG
    assert list(dest.iterdir()) == []


def test_sizes_are_counted_from_real_bytes_not_declared_ones(dest: Path) -> None:
    message = _refused(lying_about_size(b"y" * 500_000, declared=10), dest)
    assert message.startswith(BAD_ZIP)
    total = _refused(archive(*(file(f"f{i}", b"z" * 300_000) for i in range(4))), dest)
    assert total == TOO_BIG


def test_entry_count_bomb_is_refused_before_writing(dest: Path) -> None:
    message = _refused(many_entries(1001), dest)
    assert message == f"{BAD_ZIP} (1001 entries, more than the limit of 1000)"
    assert list(dest.iterdir()) == []


def test_garbage_is_not_a_zip(dest: Path) -> None:
    assert _refused(b"PK\x03\x04 but not really", dest) == f"{BAD_ZIP} (not a zip archive)"
