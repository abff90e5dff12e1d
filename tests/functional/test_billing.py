"""Billing through a real server: REPORT lines' Billed Duration, the ledger behind `/firebox/cost`, the legacy
100 ms quantum and billed init from a config file, provisioned GB-seconds, and `firebox cost`."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, create, make_zip, start_configured_server, start_server

SOURCE = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return 'ok'\n"
)
REPORT = re.compile(r"REPORT RequestId: \S+\tDuration: ([0-9.]+) ms\tBilled Duration: ([0-9]+) ms\t(.*)")
INIT = re.compile(r"Init Duration: ([0-9.]+) ms")


def invoke(lam: Any, name: str, event: dict[str, Any], qualifier: str | None = None) -> tuple[float, int, float]:
    """(Duration, Billed Duration, Init Duration or 0) from the invocation's REPORT line."""
    params = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail", **params)
    tail = base64.b64decode(response["LogResult"]).decode()
    found = REPORT.search(tail)
    assert found, tail
    init = INIT.search(found.group(3))
    return float(found.group(1)), int(found.group(2)), float(init.group(1)) if init else 0.0


def get_cost(server: RunningServer, **query: str) -> dict[str, Any]:
    url = f"{server.endpoint}/firebox/cost?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def entries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["Version"]: entry for entry in doc["Functions"]}


def test_cost_meters_every_invocation_at_its_billed_duration(server: RunningServer, lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SOURCE}), MemorySize=256, Publish=True)
    events: list[dict[str, Any]] = [{}, {"sleep": 0.01}, {"fail": True}, {"sleep": 0.02}, {}]
    latest = [invoke(lam, name, event)[1] for event in events]
    version_1 = [invoke(lam, name, {"sleep": 0.005}, "1")[1] for _ in range(2)]
    doc = get_cost(server, function=name)
    assert doc["Month"] == time.strftime("%Y-%m", time.gmtime())
    found = entries(doc)
    assert sorted(found) == ["$LATEST", "1"], "one entry per executed version"
    for version, billed in (("$LATEST", latest), ("1", version_1)):
        entry = found[version]
        assert entry["FunctionName"] == name
        assert entry["Requests"] == len(billed), "every invocation, the failed one included"
        assert entry["BilledDurationMs"] == sum(billed)
        assert entry["DurationMBMs"] == sum(billed) * 256
        assert entry["GBSeconds"] == sum(billed) * 256 / 1024 / 1000
        expected = len(billed) * Decimal("0.0000002") + Decimal(sum(billed) * 256) / 1024000 * Decimal("0.0000166667")
        assert entry["Cost"]["Total"] == float(expected)
        assert entry["ProvisionedGBSeconds"] == entry["EphemeralGBSeconds"] == 0
    account = doc["Account"]
    assert account["Requests"] >= len(latest) + len(version_1), "the account's month holds every function"
    assert account["CostWithFreeTier"]["Total"] == 0, "far below the free tier"


def test_a_bad_month_is_refused(server: RunningServer) -> None:
    for month in ("2026-13", "26-01", "2026-1", "yesterday"):
        with pytest.raises(urllib.error.HTTPError) as exc:
            get_cost(server, month=month)
        assert exc.value.code == 400
        assert exc.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
        body = json.loads(exc.value.read())
        assert body["Type"] == "User"
        assert body["message"].startswith(f"Invalid month '{month}'"), body


def test_a_month_without_usage_is_empty(server: RunningServer) -> None:
    doc = get_cost(server, month="1999-01")
    assert doc["Functions"] == []
    assert doc["Account"]["Requests"] == 0
    assert doc["Account"]["Cost"]["Total"] == 0


def _firebox(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firebox", "cost", "--endpoint-url", server.endpoint, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cost_command(server: RunningServer, lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SOURCE}))
    _, billed, _ = invoke(lam, name, {})
    result = _firebox(server, "--function", name)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(name)]
    assert rows == [
        [name, "$LATEST", "1", str(billed), f"{billed * 128 / 1024000:.6f}", "0.000000", "0.000000", rows[0][-1]]
    ]
    assert "account total:" in result.stdout
    assert "with the free tier: $0.00" in result.stdout
    refused = _firebox(server, "--month", "2026-13")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: InvalidParameterValueException: Invalid month '2026-13'")


@pytest.fixture(scope="module")
def legacy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server billing in 100 ms steps, billing init, and accruing provisioned concurrency every 0.2 s."""
    tmp = tmp_path_factory.mktemp("billing")
    running = start_configured_server(
        tmp, "billing_quantum_ms = 100\nbill_init = true\nbilling_provisioned_interval = 0.2\n"
    )
    yield running
    running.stop()


def test_legacy_quantum_and_billed_init(legacy_server: RunningServer, name: str) -> None:
    lam = legacy_server.client()
    create(lam, name, make_zip({"app.py": SOURCE}))
    reports = [invoke(lam, name, {"sleep": sleep}) for sleep in (0, 0.15, 0.01)]
    cold_duration, cold_billed, init = reports[0]
    assert init > 0, "the first invocation is a cold start"
    assert cold_billed % 100 == 0
    assert cold_billed - 100 < cold_duration + init <= cold_billed + 0.01, "init is billed"
    for duration, billed, warm_init in reports[1:]:
        assert warm_init == 0
        assert billed % 100 == 0
        assert billed - 100 < duration <= billed + 0.005
    assert reports[1][1] >= 200, "150 ms or more rounds up to 200"
    entry = entries(get_cost(legacy_server, function=name))["$LATEST"]
    assert entry["BilledDurationMs"] == sum(billed for _, billed, _ in reports)


def test_provisioned_concurrency_accrues_while_configured(legacy_server: RunningServer, name: str) -> None:
    lam = legacy_server.client()
    create(lam, name, make_zip({"app.py": SOURCE}), MemorySize=192, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    deadline = time.monotonic() + 60
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        entry = entries(get_cost(legacy_server, function=name)).get("1", {})  # the alias's version
        if entry.get("ProvisionedMBMs", 0) > 0:
            break
        time.sleep(0.2)
    assert entry.get("ProvisionedMBMs", 0) > 0, entry
    assert entry["ProvisionedMBMs"] % (2 * 192) == 0, "environments × memory × whole milliseconds"
    assert entry["ProvisionedGBSeconds"] == entry["ProvisionedMBMs"] / 1024 / 1000
    assert entry["Cost"]["ProvisionedConcurrency"] == float(
        Decimal(entry["ProvisionedMBMs"]) / 1024000 * Decimal("0.0000041667")
    )
    assert entry["Requests"] == 0, "provisioned GB-s are billed whether used or not"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    time.sleep(0.5)  # past the next accrual
    settled = entries(get_cost(legacy_server, function=name))["1"]["ProvisionedMBMs"]
    time.sleep(1.0)
    assert entries(get_cost(legacy_server, function=name))["1"]["ProvisionedMBMs"] == settled, "stops when deleted"
    assert settled >= entry["ProvisionedMBMs"]


def test_usage_survives_a_restart(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data")
    try:
        lam = running.client()
        create(lam, "survivor", make_zip({"app.py": SOURCE}))
        billed = [invoke(lam, "survivor", {})[1] for _ in range(3)]
    finally:
        code, output = running.stop()
    assert code == 0, output
    again = start_server(tmp_path / "data")
    try:
        entry = entries(get_cost(again, function="survivor"))["$LATEST"]
        assert (entry["Requests"], entry["BilledDurationMs"]) == (3, sum(billed)), "written at shutdown"
    finally:
        again.stop()
