"""Control-plane latency at scale: CreateFunction, GetFunction and a ListFunctions page of 50, with 10,000
functions in the store, as medians and as ratios against a bare HTTP server measured in the same run.

    python bench/control_plane.py [--functions 10000] [--samples 2000]

Each request goes over one keep-alive connection from this process (no SDK in the loop, so the figures are the
server's). Every function gets its own small zip, so each CreateFunction stores and unpacks a new archive.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import platform
import random
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Client, ms, p90, repeat, start_bare_server, start_firebox, stop  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"
RUNTIME = f"python3.{sys.version_info.minor}"


def zipped(index: int) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", f"N = {index}\n\ndef handler(event, context):\n    return N\n")
    return base64.b64encode(buffer.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args()

    bare, bare_port = start_bare_server()
    try:
        client = Client(bare_port)
        repeat(lambda: client.timed("GET", "/"), 200)  # warm-up
        bare_get = repeat(lambda: client.timed("GET", "/"), args.samples)
        bare_post = repeat(
            lambda: client.timed("POST", "/", {"FunctionName": "x", "Code": {"ZipFile": zipped(0)}}), args.samples
        )
    finally:
        stop(bare)

    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        firebox, port = start_firebox(Path(tmp) / "data")
        try:
            client = Client(port)
            names = [f"bench-{i:05d}" for i in range(args.functions)]
            creates = [
                client.timed(
                    "POST",
                    "/2015-03-31/functions",
                    {
                        "FunctionName": name,
                        "Runtime": RUNTIME,
                        "Handler": "app.handler",
                        "Role": ROLE,
                        "Code": {"ZipFile": zipped(i)},
                    },
                    expect=201,
                )
                for i, name in enumerate(names)
            ]
            rng = random.Random(7)
            gets = repeat(lambda: client.timed("GET", f"/2015-03-31/functions/{rng.choice(names)}"), args.samples)

            def list_page() -> float:
                marker = base64.urlsafe_b64encode(rng.choice(names).encode()).decode()
                return client.timed("GET", f"/2015-03-31/functions/?MaxItems=50&Marker={marker}")

            lists = repeat(list_page, max(200, args.samples // 4))
        finally:
            stop(firebox)

    base_get, base_post = ms(bare_get), ms(bare_post)
    rows = [
        ("bare HTTP GET (reference)", bare_get, base_get),
        ("bare HTTP POST with a create-sized body (reference)", bare_post, base_post),
        (f"CreateFunction (store holds 0 to {args.functions})", creates, base_post),
        (f"GetFunction ({args.functions} functions)", gets, base_get),
        (f"ListFunctions, page of 50 ({args.functions} functions)", lists, base_get),
    ]
    print(
        f"# control plane, {platform.python_implementation()} {platform.python_version()}, "
        f"{args.functions} functions, {args.samples} samples"
    )
    print(f"{'operation':58} {'median ms':>10} {'p90 ms':>8} {'x bare':>7}")
    for label, samples, reference in rows:
        print(f"{label:58} {ms(samples):10.2f} {p90(samples):8.2f} {ms(samples) / reference:7.1f}")
    print(json.dumps({label: round(ms(samples), 3) for label, samples, _ in rows}))


if __name__ == "__main__":
    main()
