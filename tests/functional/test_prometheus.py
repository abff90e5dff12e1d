"""`GET /metrics` through the real server, parsed with the Prometheus client's own text parser."""

from __future__ import annotations

import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer, create, make_zip

FAILING = "def handler(event, context):\n    raise ValueError('no')\n"


def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_count_what_happened(server: RunningServer, lam: Any, name: str) -> None:
    create(lam, name)
    create(lam, name + "-bad", make_zip({"app.py": FAILING}))
    for _ in range(3):
        lam.invoke(FunctionName=name)
    lam.invoke(FunctionName=name + "-bad")
    lam.put_function_concurrency(FunctionName=name + "-bad", ReservedConcurrentExecutions=0)
    try:
        lam.invoke(FunctionName=name + "-bad")
    except lam.exceptions.TooManyRequestsException:
        pass
    samples = scrape(server)
    assert samples[("firebox_invocations_total", (("function", name), ("outcome", "success")))] == 3
    assert samples[("firebox_invocations_total", (("function", name + "-bad"), ("outcome", "function_error")))] == 1
    assert samples[("firebox_throttles_total", (("function", name + "-bad"),))] == 1
    assert samples[("firebox_cold_starts_total", (("function", name),))] == 1
    assert samples[("firebox_invocation_duration_seconds_total", (("function", name),))] > 0
    assert sum(v for (metric, _), v in samples.items() if metric == "firebox_zygote_forks_total") >= 2
    assert sum(v for (metric, _), v in samples.items() if metric == "firebox_environments") >= 1
    assert ("firebox_async_events", (("state", "queued"),)) in samples
    assert ("firebox_concurrent_executions", ()) in samples
