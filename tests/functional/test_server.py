"""The `firebox serve` process: start-up, health, binding rules, one server per data directory, shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import RunningServer, free_port, start_server


def test_health_reports_version_and_store(server: RunningServer) -> None:
    doc = server.health()
    assert doc["status"] == "ok"
    assert doc["version"]
    assert doc["store"]["ok"] is True
    assert doc["store"]["engine"] == "sqlite"
    assert doc["store"]["schema_version"] >= 1


def test_every_response_has_a_request_id(server: RunningServer) -> None:
    with urllib.request.urlopen(server.endpoint + "/2015-03-31/functions", timeout=5) as response:
        assert len(response.headers["x-amzn-RequestId"]) == 36
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(server.endpoint + "/2015-03-31/functions/nope", timeout=5)
    assert exc.value.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert len(exc.value.headers["x-amzn-RequestId"]) == 36
    assert json.loads(exc.value.read())["Type"] == "User"


def test_startup_banner_and_clean_sigterm(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data")
    code, output = running.stop(timeout=5)
    assert code == 0
    assert f"listening on http://127.0.0.1:{running.port}" in output
    assert str((tmp_path / "data").resolve()) in output
    assert f"aws --endpoint-url http://127.0.0.1:{running.port} lambda list-functions" in output
    assert "Traceback" not in output


def test_clean_sigint(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data")
    running.process.send_signal(signal.SIGINT)
    code, output = running.stop(timeout=5)
    assert code == 0, output


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firebox", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_refuses_non_loopback_without_the_unsafe_flag(tmp_path: Path) -> None:
    result = _serve("--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "--unsafe-public-bind-without-auth" in result.stderr


def test_unsafe_flag_allows_non_loopback_and_warns(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data", "--host", "0.0.0.0", "--unsafe-public-bind-without-auth")
    code, output = running.stop()
    assert code == 0
    assert "NO AUTHENTICATION" in output


def test_one_server_per_data_directory(own_server: RunningServer) -> None:
    result = _serve("--port", str(free_port()), "--data-dir", str(own_server.data_dir))
    assert result.returncode == 2
    assert "already using the data directory" in result.stderr
    assert own_server.health()["status"] == "ok"


def test_bad_config_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "firebox.toml"
    config.write_text('port = "not a number"\n')
    result = _serve("--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "port must be an integer" in result.stderr
