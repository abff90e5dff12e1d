"""Nothing acknowledged is ever lost: kill -9 the server while Event invocations drain, start it again, and every
event that got a 202 has run at least once (duplicates are allowed, counted and reported).

The function records each event by appending its id to a file in the host's /tmp, which the `process` sandbox
shares: that evidence survives the server's death, where the server's own logs may not.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import create, make_zip, start_configured_server, start_server

EVENTS = 10_000
RECORDER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    time.sleep(0.005)\n"
    "    fd = os.open({path!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"
    "    os.write(fd, (event['id'] + '\\n').encode())\n"
    "    os.close(fd)\n"
)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.slow
def test_kill_9_while_draining_loses_no_acknowledged_event(tmp_path: Path) -> None:
    evidence = Path(f"/tmp/firebox-faults-{uuid.uuid4().hex}.txt")
    data = tmp_path / "data"
    config = tmp_path / "firebox.toml"
    config.write_text("async_concurrency = 2\n")  # drains slower than the events arrive: the kill finds work
    server = start_server(data, "--sandbox", "process", "--config", str(config))
    try:
        lam = server.client()
        create(lam, "recorder", make_zip({"app.py": RECORDER.format(path=str(evidence))}))

        def send(i: int) -> str | None:
            response = lam.invoke(FunctionName="recorder", InvocationType="Event", Payload=json.dumps({"id": f"e{i}"}))
            return f"e{i}" if response["StatusCode"] == 202 else None

        with ThreadPoolExecutor(max_workers=16) as pool:
            acknowledged = {event_id for event_id in pool.map(send, range(EVENTS)) if event_id}
        server.process.send_signal(signal.SIGKILL)
        code, _ = server.stop()
        assert code == -signal.SIGKILL
        ran_before = len(_lines(evidence))
        assert ran_before < EVENTS, "the kill came while events were still draining"

        restarted = start_server(data, "--sandbox", "process", "--config", str(config))
        try:
            deadline = time.monotonic() + 120
            while not acknowledged <= set(_lines(evidence)) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            restarted.stop()
        executions = Counter(_lines(evidence))
        missing = acknowledged - set(executions)
        duplicates = sum(count - 1 for count in executions.values())
        print(
            f"{len(acknowledged)} acknowledged, {ran_before} run before kill -9, {len(missing)} missing, "
            f"{duplicates} duplicates ({100 * duplicates / len(acknowledged):.2f} %)"
        )
        assert len(acknowledged) == EVENTS
        assert not missing, f"{len(missing)} acknowledged events never ran"
        assert duplicates <= EVENTS // 100, "at least once, with under 1 % duplicates"
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.stop()
        evidence.unlink(missing_ok=True)


VICTIM = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    marker = event['marker']\n"
    "    if os.path.exists(marker):\n"
    "        return 'second run'\n"
    "    with open(marker, 'w') as f:\n"
    "        f.write(str(os.getpid()))\n"
    "    time.sleep(30)\n"
)


def test_an_environment_killed_mid_invocation_runs_the_event_again_without_using_a_retry(tmp_path: Path) -> None:
    marker = Path(f"/tmp/firebox-victim-{uuid.uuid4().hex}")
    server = start_configured_server(tmp_path, "async_retry_scale = 0.01\n", "--sandbox", "process")
    try:
        lam = server.client()
        create(lam, "victim", make_zip({"app.py": VICTIM}), Timeout=60)
        create(lam, "outcomes", make_zip({"app.py": "def handler(event, context):\n    print('GOT', event)\n"}))
        lam.put_function_event_invoke_config(
            FunctionName="victim",
            MaximumRetryAttempts=0,
            DestinationConfig={
                "OnSuccess": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:outcomes"},
                "OnFailure": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:outcomes"},
            },
        )
        lam.invoke(FunctionName="victim", InvocationType="Event", Payload=json.dumps({"marker": str(marker)}))
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)
        deadline = time.monotonic() + 30
        outcome = None
        while outcome is None and time.monotonic() < deadline:
            with urllib.request.urlopen(f"{server.endpoint}/firebox/functions/outcomes/logs", timeout=10) as r:
                found = [e["message"] for e in json.loads(r.read())["events"] if e["message"].startswith("GOT")]
            outcome = found[0] if found else None
            time.sleep(0.1)
        assert outcome is not None, "the event was neither run again nor failed"
        assert "'condition': 'Success'" in outcome, "with no retries left, only a run that did not count could succeed"
        assert "'responsePayload': 'second run'" in outcome
    finally:
        server.stop()
        marker.unlink(missing_ok=True)
