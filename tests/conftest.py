"""Shared fixtures: a real `firebox serve` process on a free port, and boto3 clients pointed at it."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROLE = "arn:aws:iam::000000000000:role/firebox-test"
RUNTIME = f"python3.{sys.version_info.minor}"
HANDLER_SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A `firebox serve` child process; `stop()` sends SIGTERM and waits for a clean exit."""

    data_dir: Path
    port: int
    process: subprocess.Popen[str]
    extra_args: list[str] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, region: str = "us-east-1", service: str = "lambda") -> Any:
        """A boto3 client (lambda, logs, cloudwatch) for this server, closed when the server stops."""
        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64, read_timeout=900),
        )
        self.clients.append(client)
        return client

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as response:
            doc: dict[str, Any] = json.loads(response.read())
            return doc

    def stop(self, timeout: float = 5.0) -> tuple[int, str]:
        """SIGTERM, then the exit code and everything the server printed."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            raise AssertionError(f"firebox serve did not stop within {timeout} s:\n{output}") from None
        return self.process.returncode, output


def start_server(data_dir: Path, *extra: str, port: int | None = None) -> RunningServer:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBOX_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "firebox", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    server = RunningServer(data_dir, port, process, list(extra))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.communicate()[0]
            raise AssertionError(f"firebox serve exited with {process.returncode}:\n{output}")
        try:
            server.health()
            return server
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("firebox serve did not answer /health within 30 s")


def start_configured_server(directory: Path, settings: str, *extra: str) -> RunningServer:
    """A server whose config file (written to `directory/firebox.toml`) holds `settings`, TOML lines."""
    config = directory / "firebox.toml"
    config.write_text(settings)
    return start_server(directory / "data", "--config", str(config), *extra)


@contextlib.contextmanager
def http_receiver(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server answering with `handler` on a free port, for as long as the block runs: its base URL."""
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{receiver.server_address[1]}"
    finally:
        receiver.shutdown()
        receiver.server_close()


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """One server shared by the tests that only add their own, uniquely named functions."""
    with tempfile.TemporaryDirectory(prefix="firebox-test-") as tmp:
        running = start_server(Path(tmp) / "data")
        yield running
        running.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of the test's own, for tests that count, restart or inspect the data directory."""
    running = start_server(tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture
def lam(server: RunningServer) -> Iterator[Any]:
    client = server.client()
    yield client
    client.close()
    server.clients.remove(client)


@pytest.fixture
def name() -> str:
    return "fn-" + uuid.uuid4().hex[:12]


def make_zip(files: dict[str, str | bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in (files or {"app.py": HANDLER_SOURCE}).items():
            archive.writestr(path, content)
    return buffer.getvalue()


def create(lam: Any, name: str, code: bytes | None = None, wait: bool = True, **settings: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"Runtime": RUNTIME, "Handler": "app.handler", "Role": ROLE, **settings}
    config: dict[str, Any] = lam.create_function(FunctionName=name, Code={"ZipFile": code or make_zip()}, **params)
    if wait:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return config


def error_of(exc_info: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response = exc_info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@dataclass
class HttpReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
    host: str | None = None,
    timeout: float = 60,
) -> HttpReply:
    """One plain HTTP request to 127.0.0.1:`port` with exactly these headers (repeats kept) and `host` as Host."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"127.0.0.1:{port}")
        for key, value in headers or []:
            connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return HttpReply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on a free loopback port, for the whole session: SQS, Kinesis, DynamoDB (and its streams),
    SNS and S3 at one endpoint. Tests use unique resource names."""
    moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
    port = free_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


def aws_client(endpoint: str, service: str) -> Any:
    """A boto3 client for an AWS service at `endpoint` (moto), with throwaway credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
