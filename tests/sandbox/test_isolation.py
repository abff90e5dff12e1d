"""The linux sandbox, attacked from inside a function: memory, processes, files, identity.

These run only where the linux sandbox is in use (root with cgroups, as in CI); elsewhere the server runs the
`process` sandbox, which promises none of this and says so at start.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import create, make_zip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the linux sandbox needs root; CI runs as root")


def _run(lam: Any, name: str, source: str, event: Any = None, **settings: Any) -> tuple[Any, dict[str, Any]]:
    if settings.get("_existing") is None:
        create(lam, name, make_zip({"app.py": source}), **settings)
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return json.loads(response["Payload"].read()), response


OOM = """
def handler(event, context):
    if event.get("hog"):
        blocks = []
        while True:
            blocks.append(bytearray(16 * 1024 * 1024))
    return "healthy"
"""


def test_out_of_memory_kills_only_the_environment(lam: Any, name: str) -> None:
    # 128 MB gets 128/1,769 of a CPU, and the kernel's reclaim before the OOM kill runs on that share: the timeout
    # leaves room for a slow machine, so what is checked is the outcome, not how fast it comes
    create(lam, name, make_zip({"app.py": OOM}), MemorySize=128, Timeout=60)
    for _ in range(5):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"hog": True}))
        result = json.loads(response["Payload"].read())
        request_id = response["ResponseMetadata"]["RequestId"]
        assert response["FunctionError"] == "Unhandled"
        assert result == {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        }
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(response["Payload"].read()) == "healthy"


FORK_BOMB = """
import os
def handler(event, context):
    children = 0
    try:
        while True:
            if os.fork() == 0:
                import time
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as exc:
        return {"children": children, "errno": exc.errno}
"""


def test_a_fork_bomb_stays_inside(lam: Any, name: str) -> None:
    result, _ = _run(lam, name, FORK_BOMB, Timeout=30, MemorySize=4096)
    assert isinstance(result, dict) and result.get("errno") == 11, f"EAGAIN: the pids limit stopped it ({result})"
    assert result["children"] < 1024
    assert _run(lam, name + "-after", "def handler(e, c):\n    return 'alive'\n")[0] == "alive"


PROBE = """
import os, glob
def handler(event, context):
    def can_write(path):
        try:
            with open(path, "w") as f:
                f.write("x")
            return True
        except OSError:
            return False
    def listing(path):
        try:
            return os.listdir(path)
        except OSError as exc:
            return exc.errno
    return {
        "uid": os.getuid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "write_task": can_write("/var/task/new.py"),
        "write_tmp": can_write("/tmp/mine.txt"),
        "tmp": sorted(os.listdir("/tmp")),
        "data_dir": listing(event["data_dir"]),
        "code_dir": listing(event["data_dir"] + "/code/unpacked"),
        "envs_dir": listing(event["data_dir"] + "/envs"),
        "db": can_write(event["data_dir"] + "/firebox.db"),
        "root": listing("/root"),
        "hostname": os.uname().nodename,
    }
"""


def test_a_handler_cannot_see_or_touch_what_is_not_its_own(server: Any, lam: Any, name: str) -> None:
    create(lam, name + "-other", make_zip({"app.py": "def handler(e, c):\n    open('/tmp/secret', 'w')\n"}))
    lam.invoke(FunctionName=name + "-other", Payload=b"{}")["Payload"].read()
    result, _ = _run(lam, name, PROBE, {"data_dir": str(server.data_dir)})
    assert result["uid"] != 0
    assert len(result["pids"]) <= 3, f"only the environment's own processes are visible: {result['pids']}"
    assert result["write_task"] is False
    assert result["write_tmp"] is True
    assert "secret" not in result["tmp"], "another function's /tmp is not this one's"
    hidden = (2, 13)  # ENOENT where the data directory is not visible at all, EACCES where it is private
    assert result["data_dir"] in hidden, "the data directory cannot be listed"
    assert result["code_dir"] in hidden and result["envs_dir"] in hidden
    assert result["db"] is False
    assert result["root"] in (13, [".pyenv"], []), "nothing private of root's is visible"
    assert result["hostname"] == "firebox"


def test_tmp_is_sized_by_ephemeral_storage(lam: Any, name: str) -> None:
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    st = os.statvfs('/tmp')\n"
        "    return st.f_blocks * st.f_frsize // (1024 * 1024)\n"
    )
    result, _ = _run(lam, name, source, EphemeralStorage={"Size": 600}, MemorySize=256)
    assert result == 600
