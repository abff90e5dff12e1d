"""Shared pieces of the benchmarks: starting servers, a keep-alive HTTP client, timing and reporting."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

BARE_APP = Path(__file__).with_name("bare_server.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start_bare_server() -> tuple[subprocess.Popen[bytes], int]:
    """The reference: a do-nothing JSON endpoint on the same HTTP stack (uvicorn, httptools, uvloop)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(BARE_APP), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_http(f"http://127.0.0.1:{port}/", process)
    return process, port


def start_firebox(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBOX_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "firebox", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_http(f"http://127.0.0.1:{port}/health", process)
    return process, port


class Client:
    """One keep-alive HTTP/1.1 connection: what a busy SDK client looks like, minus the SDK's own costs."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def timed(self, method: str, path: str, body: Any = None, expect: int = 200) -> float:
        start = time.perf_counter()
        status, payload = self.request(method, path, body)
        elapsed = time.perf_counter() - start
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
        return elapsed


def repeat(fn: Callable[[], float], count: int) -> list[float]:
    return [fn() for _ in range(count)]


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] * 1000


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
