"""X-Ray trace ids through the real server: from the caller's `X-Amzn-Trace-Id` to the handler, through Event
invocations to destinations (a function and a webhook), and the XRAY line of actively traced functions."""

from __future__ import annotations

import base64
import http.server
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningServer, create, http_receiver, make_zip
from tests.functional.test_async import log_lines, wait_for

TRACE_ECHO = (
    "import os\n"
    "def handler(event, context):\n"
    "    print('TRACE ' + os.environ['_X_AMZN_TRACE_ID'])\n"
    "    return {'trace': os.environ['_X_AMZN_TRACE_ID']}\n"
)
ROOT = "1-67a1b2c3-0123456789abcdef01234567"
HEADER = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
TRACE = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])")


def traced_client(server: RunningServer, header: str) -> Any:
    """A lambda client whose requests carry `X-Amzn-Trace-Id: header`."""
    lam = server.client()

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    lam.meta.events.register("before-sign.lambda.Invoke", add_header)
    return lam


def test_the_callers_trace_reaches_the_handler_as_a_new_segment(server: RunningServer, name: str) -> None:
    lam = traced_client(server, HEADER)
    create(lam, name, make_zip({"app.py": TRACE_ECHO}))
    seen = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())["trace"]
    match = TRACE.fullmatch(seen)
    assert match is not None, seen
    assert match.group(1) == ROOT and match.group(3) == "1"
    assert match.group(2) != "53995c3f42cd8ad8", "the invocation is a segment of its own"


def test_without_a_header_each_invocation_starts_a_trace(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": TRACE_ECHO}))
    first, second = (json.loads(lam.invoke(FunctionName=name)["Payload"].read())["trace"] for _ in range(2))
    assert TRACE.fullmatch(first) and TRACE.fullmatch(second)
    assert first.split(";")[0] != second.split(";")[0]


@pytest.mark.parametrize("header", ["garbage", "Root=2-bad;Sampled=1", ""])
def test_an_unusable_header_starts_a_new_trace(server: RunningServer, name: str, header: str) -> None:
    lam = traced_client(server, header)
    create(lam, name, make_zip({"app.py": TRACE_ECHO}))
    seen = json.loads(lam.invoke(FunctionName=name)["Payload"].read())["trace"]
    assert TRACE.fullmatch(seen), seen


def test_active_tracing_writes_the_xray_line(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": TRACE_ECHO}), TracingConfig={"Mode": "Active"})
    response = lam.invoke(FunctionName=name, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    trace = json.loads(response["Payload"].read())["trace"]
    root, parent = TRACE.fullmatch(trace).group(1, 2)  # type: ignore[union-attr]
    assert f"XRAY TraceId: {root}\tSegmentId: {parent}\tSampled: true" in tail.splitlines()


class _TraceHook(http.server.BaseHTTPRequestHandler):
    headers_seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        self.rfile.read(int(self.headers["Content-Length"]))
        _TraceHook.headers_seen.append(self.headers.get("X-Amzn-Trace-Id", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def trace_hook() -> Iterator[str]:
    _TraceHook.headers_seen = []
    with http_receiver(_TraceHook) as url:
        yield url + "/hook"


def test_the_trace_is_carried_through_event_invocations_to_destinations(
    server: RunningServer, name: str, trace_hook: str
) -> None:
    lam = traced_client(server, HEADER)
    source, target = name, name + "-dest"
    create(lam, target, make_zip({"app.py": TRACE_ECHO}))
    create(lam, source, make_zip({"app.py": TRACE_ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName=source,
        DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:lambda:us-east-1:000000000000:function:{target}"}},
    )
    lam.put_function_event_invoke_config(
        FunctionName=target, DestinationConfig={"OnSuccess": {"Destination": trace_hook}}
    )
    assert lam.invoke(FunctionName=source, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    in_source = wait_for(lambda: [line for line in log_lines(server, source) if line.startswith("TRACE ")])
    in_target = wait_for(lambda: [line for line in log_lines(server, target) if line.startswith("TRACE ")])
    wait_for(lambda: _TraceHook.headers_seen)
    for seen in (in_source[0][6:], in_target[0][6:], _TraceHook.headers_seen[0]):
        match = TRACE.fullmatch(seen)
        assert match is not None and match.group(1) == ROOT, seen
