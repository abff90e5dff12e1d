"""Warm Invoke latency of two checkouts of Firebox, running side by side and invoked alternately, so that the
machine's drift hits both alike: the way to tell a small regression from noise.

    git worktree add /tmp/before <commit>
    python bench/side_by_side.py /tmp/before [--batches 20] [--batch 250]

Each tree serves from its own data directory with `python -m firebox serve` run in that tree; one no-op function at
1,769 MB each; batches of `--batch` invocations over one keep-alive connection alternate between them (the order
flipping every batch). Prints both medians and their ratio (this tree / the other).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, stop, wait_http  # noqa: E402
from invoke import ROLE, RUNTIME  # noqa: E402

PATH = "/2015-03-31/functions/f/invocations"


def _start(tree: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBOX_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "firebox", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/health", process)
    return process, port


def _deploy(port: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'ok': True}\n")
    body = {
        "FunctionName": "f",
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "MemorySize": 1769,
        "Code": {"ZipFile": base64.b64encode(buffer.getvalue()).decode()},
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).read()
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/f/configuration"
    while json.loads(urllib.request.urlopen(url, timeout=30).read()).get("State") != "Active":
        time.sleep(0.05)


def _batch(connection: http.client.HTTPConnection, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("POST", PATH, body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"invoke answered {response.status}")
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=250)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        other, other_port = _start(args.other.resolve(), Path(tmp) / "other")
        this, this_port = _start(here, Path(tmp) / "this")
        try:
            _deploy(other_port)
            _deploy(this_port)
            connections = {
                "other": http.client.HTTPConnection("127.0.0.1", other_port, timeout=60),
                "this": http.client.HTTPConnection("127.0.0.1", this_port, timeout=60),
            }
            samples: dict[str, list[float]] = {"other": [], "this": []}
            for connection in connections.values():
                _batch(connection, 300)  # warm
            for index in range(args.batches):
                order = ("this", "other") if index % 2 else ("other", "this")
                for name in order:
                    samples[name] += _batch(connections[name], args.batch)
        finally:
            stop(other)
            stop(this)
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(
        f"warm Invoke p50 over one connection: other {medians['other']:.3f} ms, this {medians['this']:.3f} ms, "
        f"this / other {medians['this'] / medians['other']:.3f}"
    )


if __name__ == "__main__":
    main()
