"""Span export over OTLP/HTTP JSON to a collector the operator names (`otlp_endpoint`), through the real server."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, create, http_receiver, start_configured_server
from tests.functional.test_async import wait_for
from tests.functional.test_tracing import HEADER, ROOT, traced_client


class _Collector(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.requests.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.requests = []
    with http_receiver(_Collector) as url:
        yield url


@pytest.fixture
def exporting_server(tmp_path: Path, collector: str) -> Iterator[RunningServer]:
    running = start_configured_server(tmp_path, f'otlp_endpoint = "{collector}"\n')
    yield running
    running.stop()


def spans_of(function: str) -> list[dict[str, Any]]:
    found = []
    for path, body in _Collector.requests:
        assert path == "/v1/traces"
        for resource in body["resourceSpans"]:
            attributes = {a["key"]: a["value"] for a in resource["resource"]["attributes"]}
            if attributes["service.name"] == {"stringValue": function}:
                for scope in resource["scopeSpans"]:
                    found.extend(scope["spans"])
    return found


def test_invocations_are_exported_as_spans_of_the_callers_trace(exporting_server: RunningServer) -> None:
    lam = traced_client(exporting_server, HEADER)
    create(lam, "traced")
    lam.invoke(FunctionName="traced")
    lam.invoke(FunctionName="traced")
    assert lam.invoke(FunctionName="traced", InvocationType="Event")["StatusCode"] == 202
    spans = wait_for(lambda: len(spans_of("traced")) >= 5 and spans_of("traced"))
    trace_id = ROOT[2:].replace("-", "")
    assert {span["traceId"] for span in spans} == {trace_id}
    invokes = [span for span in spans if span["name"] == "invoke traced"]
    assert len(invokes) == 3
    inits = [span for span in spans if span["name"] == "init"]
    assert len(inits) == 1, "one cold start"
    assert inits[0]["parentSpanId"] in {span["spanId"] for span in invokes}
    queued = [span for span in spans if span["name"] == "queue"]
    assert len(queued) == 1, "the Event invocation waited in the queue"
    for span in spans:
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0
    cold = {a["key"]: a["value"] for a in invokes[0]["attributes"]}
    assert cold["faas.coldstart"] == {"boolValue": True}
    assert len(cold["faas.invocation_id"]["stringValue"]) == 36
