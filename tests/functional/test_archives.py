"""Hostile archives through the real API: the exact error, and nothing written anywhere it could be used."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RunningServer, create, error_of, make_zip
from tests.hostile_zips import archive, file, inflating, link, many_entries

BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _leftovers(server: RunningServer) -> list[str]:
    code = server.data_dir / "code"
    return sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.parent != code)


def _refused(lam: Any, data: bytes) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        create(lam, "hostile", data, wait=False)
    return error_of(exc)


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([file("../../escaped.py")], "path '../../escaped.py' leaves the archive root"),
        ([file("/tmp/firebox-absolute-{tag}.py")], "absolute path '/tmp/firebox-absolute-{tag}.py'"),
        ([link("etc", "/etc")], "symbolic link 'etc' points to an absolute path"),
        ([link("up", "../../../../../../etc")], "symbolic link 'up' points outside the archive"),
        ([link("sub/q", ".."), link("sub/p", "q/..")], "symbolic link 'sub/p' points outside the archive"),
    ],
)
def test_escaping_archives_are_refused_and_leave_nothing(
    own_server: RunningServer, entries: list[tuple[str, bytes | str, int]], reason: str
) -> None:
    tag = uuid.uuid4().hex
    entries = [(n.replace("{tag}", tag), c, m) for n, c, m in entries]
    lam = own_server.client()
    data = archive(file("app.py", "def handler(e, c):\n    return 1\n"), *entries)
    assert _refused(lam, data) == (
        "InvalidParameterValueException",
        f"{BAD_ZIP} ({reason.replace('{tag}', tag)})",
        400,
    )
    assert _leftovers(own_server) == []
    assert not Path(f"/tmp/firebox-absolute-{tag}.py").exists()
    assert (
        not (own_server.data_dir / "escaped.py").exists() and not (own_server.data_dir.parent / "escaped.py").exists()
    )
    assert lam.list_functions()["Functions"] == []


@pytest.mark.slow
def test_small_zip_inflating_past_250_mb(own_server: RunningServer) -> None:
    lam = own_server.client()
    data = inflating(262_144_001 + 40_000_000)
    assert len(data) < 1_000_000
    assert _refused(lam, data) == (
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
        400,
    )
    assert _leftovers(own_server) == []


@pytest.mark.slow
def test_one_hundred_thousand_entries(own_server: RunningServer) -> None:
    lam = own_server.client()
    assert _refused(lam, many_entries(100_000)) == (
        "InvalidParameterValueException",
        f"{BAD_ZIP} (100000 entries, more than the limit of 65535)",
        400,
    )
    assert _leftovers(own_server) == []


def test_failed_update_keeps_the_old_code(own_server: RunningServer) -> None:
    lam = own_server.client()
    good = make_zip()
    create(lam, "keeper", good)
    before = lam.get_function_configuration(FunctionName="keeper")
    with pytest.raises(ClientError) as exc:
        lam.update_function_code(FunctionName="keeper", ZipFile=archive(file("../x.py")))
    assert error_of(exc)[0] == "InvalidParameterValueException"
    after = lam.get_function_configuration(FunctionName="keeper")
    assert (after["CodeSha256"], after["RevisionId"]) == (before["CodeSha256"], before["RevisionId"])
    unpacked = list((own_server.data_dir / "code" / "unpacked").iterdir())
    assert len(unpacked) == 1 and (unpacked[0] / "app.py").is_file()


def test_code_is_stored_once_and_collected_when_unused(own_server: RunningServer) -> None:
    lam = own_server.client()
    code = make_zip()
    create(lam, "first", code)
    create(lam, "second", code)
    unpacked = own_server.data_dir / "code" / "unpacked"
    archives = own_server.data_dir / "code" / "archives"
    assert len(list(unpacked.iterdir())) == 1 and len(list(archives.iterdir())) == 1
    lam.delete_function(FunctionName="first")
    assert len(list(unpacked.iterdir())) == 1, "still used by 'second'"
    lam.update_function_code(FunctionName="second", ZipFile=make_zip({"app.py": "X = 2\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="second", WaiterConfig={"Delay": 1})
    assert len(list(unpacked.iterdir())) == 1, "the old archive went with its last user"
    lam.delete_function(FunctionName="second")
    assert list(unpacked.iterdir()) == [] and list(archives.iterdir()) == []
