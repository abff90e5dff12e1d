"""CloudWatch Logs through the real server with boto3's `logs` client, and the `firebox logs` command."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RunningServer, create, error_of, make_zip, start_configured_server

PRINTER = """
import json
def handler(event, context):
    for line in event.get("lines", []):
        print(line)
    if "json" in event:
        print(json.dumps(event["json"]))
    return {"ok": True}
"""


@pytest.fixture
def logs(server: RunningServer) -> Iterator[Any]:
    client = server.client(service="logs")
    yield client
    client.close()
    server.clients.remove(client)


def deploy(lam: Any, name: str, source: str = PRINTER, **settings: Any) -> str:
    create(lam, name, make_zip({"app.py": source}), **settings)
    return f"/aws/lambda/{name}"


def invoke(lam: Any, name: str, event: Any) -> Any:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def wait_for(probe: Any, seconds: float = 10.0) -> Any:
    """Poll `probe` until it returns something truthy (logs reach the store in batches, shortly after)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def messages(logs: Any, group: str, pattern: str = "", **params: Any) -> list[str]:
    found: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=pattern, **params):
        found += [event["message"] for event in page["events"]]
    return found


def test_filter_finds_a_printed_marker(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    marker = f"marker-{uuid.uuid4().hex}"
    invoke(lam, name, {"lines": [f"before {marker} after"]})
    found = wait_for(lambda: logs.filter_log_events(logGroupName=group, filterPattern=f'"{marker}"')["events"])
    assert [e["message"] for e in found] == [f"before {marker} after"]
    event = found[0]
    assert event["logStreamName"].startswith(
        time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime(event["timestamp"] / 1000))
    )
    assert len(event["logStreamName"].split("]", 1)[1]) == 32
    assert event["ingestionTime"] >= event["timestamp"]
    assert event["eventId"].isdigit()
    everything = messages(logs, group)
    assert everything[0].startswith("INIT_START Runtime Version: ")
    assert any(m.startswith("START RequestId: ") for m in everything)
    assert everything[-1].startswith("REPORT RequestId: ")


def test_filter_patterns_terms_phrases_alternatives_and_exclusions(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    lines = ["ERROR db connection refused", "WARN slow query", "ERROR disk full", "INFO all good", "error lower"]
    invoke(lam, name, {"lines": lines})
    assert wait_for(lambda: messages(logs, group, "ERROR")) == [lines[0], lines[2]]
    assert messages(logs, group, '"connection refused"') == [lines[0]]
    assert messages(logs, group, "ERROR -disk") == [lines[0]]
    assert messages(logs, group, "?WARN ?INFO") == [lines[1], lines[3]]
    assert messages(logs, group, "error") == [lines[4]]
    assert messages(logs, group, "ERROR full", limit=1) == [lines[2]]
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, filterPattern='"unterminated')
    assert error_of(exc) == ("InvalidParameterException", "Invalid filter pattern", 400)


def test_filter_by_stream_time_and_limit_pages_with_next_token(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    invoke(lam, name, {"lines": [f"line {i}" for i in range(7)]})
    assert wait_for(lambda: len(messages(logs, group, "line")) == 7)
    first = logs.filter_log_events(logGroupName=group, filterPattern="line", limit=3)
    assert [e["message"] for e in first["events"]] == ["line 0", "line 1", "line 2"]
    second = logs.filter_log_events(logGroupName=group, filterPattern="line", limit=3, nextToken=first["nextToken"])
    assert [e["message"] for e in second["events"]] == ["line 3", "line 4", "line 5"]
    last = logs.filter_log_events(logGroupName=group, filterPattern="line", nextToken=second["nextToken"])
    assert [e["message"] for e in last["events"]] == ["line 6"]
    assert "nextToken" not in last
    stream = first["events"][0]["logStreamName"]
    timestamp = first["events"][0]["timestamp"]
    assert len(messages(logs, group, "line", logStreamNames=[stream])) == 7
    assert len(messages(logs, group, "line", logStreamNamePrefix=stream[:10])) == 7
    assert messages(logs, group, "line", logStreamNames=["no-such-stream"]) == []
    assert messages(logs, group, "line", startTime=timestamp + 1) == []
    assert len(messages(logs, group, "line", startTime=timestamp, endTime=timestamp + 1)) == 7
    assert messages(logs, group, "line", endTime=timestamp) == []


def test_get_log_events_pages_forward_and_backward(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    for round_ in range(3):
        invoke(lam, name, {"lines": [f"round {round_} line {i}" for i in range(9)]})
    assert wait_for(lambda: len(messages(logs, group)) == 1 + 3 * 12), "INIT_START, then START, 9 lines, END, REPORT"
    expected = messages(logs, group)
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]

    forward: list[str] = []
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=10)
    pages = 0
    while True:
        forward += [e["message"] for e in page["events"]]
        pages += 1
        assert len(page["events"]) <= 10
        following = logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=10, nextToken=page["nextForwardToken"]
        )
        if not following["events"]:
            assert following["nextForwardToken"] == page["nextForwardToken"], "the end repeats the forward token"
            break
        page = following
    assert forward == expected
    assert pages == -(-len(expected) // 10)

    backward: list[list[str]] = []
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10)
    assert [e["message"] for e in page["events"]] == expected[-10:], "by default the newest events"
    while page["events"]:
        backward.insert(0, [e["message"] for e in page["events"]])
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=10, nextToken=page["nextBackwardToken"]
        )
    assert [m for chunk in backward for m in chunk] == expected
    again = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=5, nextToken=page["nextForwardToken"])
    assert [e["message"] for e in again["events"]] == expected[:5], "forward from the beginning"

    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert error_of(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="f/garbage")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_describe_log_groups_and_streams(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    invoke(lam, name, {"lines": ["one"]})
    listed = wait_for(lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
    assert [g["logGroupName"] for g in listed] == [group]
    assert listed[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert listed[0]["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    assert listed[0]["storedBytes"] > 0 and "retentionInDays" not in listed[0]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1 and streams[0]["storedBytes"] > 0
    assert streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"] <= streams[0]["lastIngestionTime"]

    prefix = f"/firebox-test/{uuid.uuid4().hex[:8]}/"
    for suffix in ("c", "a", "b"):
        logs.create_log_group(logGroupName=prefix + suffix)
    first = logs.describe_log_groups(logGroupNamePrefix=prefix, limit=2)
    assert [g["logGroupName"] for g in first["logGroups"]] == [prefix + "a", prefix + "b"]
    rest = logs.describe_log_groups(logGroupNamePrefix=prefix, limit=2, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == [prefix + "c"] and "nextToken" not in rest
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=prefix + "a")
    assert error_of(exc)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(limit=51)
    assert error_of(exc)[0] == "InvalidParameterException"

    own = prefix + "a"
    for stream, when in (("s-old", 1_000), ("s-new", 3_000), ("s-mid", 2_000)):
        logs.create_log_stream(logGroupName=own, logStreamName=stream)
        logs.put_log_events(
            logGroupName=own,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000) - 100_000 + when, "message": stream}],
        )
    by_name = logs.describe_log_streams(logGroupName=own)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["s-mid", "s-new", "s-old"]
    by_time = logs.describe_log_streams(logGroupName=own, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["s-new", "s-mid", "s-old"]
    paged = logs.describe_log_streams(logGroupName=own, logStreamNamePrefix="s-", limit=2)
    assert len(paged["logStreams"]) == 2
    tail = logs.describe_log_streams(logGroupName=own, logStreamNamePrefix="s-", nextToken=paged["nextToken"])
    assert [s["logStreamName"] for s in tail["logStreams"]] == ["s-old"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=prefix + "missing")
    assert error_of(exc) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=own, logStreamName="s-old")
    assert error_of(exc)[0] == "ResourceAlreadyExistsException"


def test_retention_policy_is_shown_and_checked(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    invoke(lam, name, {"lines": ["x"]})
    assert wait_for(lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 14
    for bad in (0, 2, 4000):
        with pytest.raises(ClientError) as exc:
            logs.put_retention_policy(logGroupName=group, retentionInDays=bad)
        assert error_of(exc)[0] == "InvalidParameterException"
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group + "-missing", retentionInDays=1)
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_delete_log_group_then_the_function_logs_again(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    invoke(lam, name, {"lines": ["first life"]})
    assert wait_for(lambda: messages(logs, group, '"first life"'))
    logs.delete_log_group(logGroupName=group)
    for call in (
        lambda: logs.filter_log_events(logGroupName=group),
        lambda: logs.describe_log_streams(logGroupName=group),
        lambda: logs.delete_log_group(logGroupName=group),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    invoke(lam, name, {"lines": ["second life"]})
    assert wait_for(lambda: messages(logs, group, '"second life"')) == ["second life"]
    assert messages(logs, group, '"first life"') == []


def test_a_printed_json_line_stays_intact(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    doc = {"_aws": {"Timestamp": 1}, "level": "error", "text": "caf\u00e9 \u2028 tab\tend", "n": [1, 2.5]}
    invoke(lam, name, {"json": doc})
    found = wait_for(lambda: messages(logs, group, '{ $.level = "error" }'))
    assert found == [json.dumps(doc)]
    assert json.loads(found[0]) == doc


def test_output_without_a_final_newline_is_still_its_own_event(lam: Any, logs: Any, name: str) -> None:
    source = "import sys\ndef handler(event, context):\n    sys.stdout.write('first\\nno newline')\n    return 1\n"
    group = deploy(lam, name, source)
    invoke(lam, name, {})
    found = wait_for(lambda: [m for m in messages(logs, group) if not m.startswith(("INIT_START", "REPORT"))])
    assert found[1:3] == ["first", "no newline"]
    assert found[3].startswith("END RequestId: ")


LOGS_CLIENT = """
import boto3
def handler(event, context):
    client = boto3.client("logs")
    group = "/aws/lambda/" + context.function_name
    try:
        client.create_log_group(logGroupName=group)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    client.create_log_stream(logGroupName=group, logStreamName=event["stream"])
    response = client.put_log_events(
        logGroupName=group,
        logStreamName=event["stream"],
        logEvents=[{"timestamp": event["now"] + i, "message": m} for i, m in enumerate(event["messages"])],
    )
    return {"token": response.get("nextSequenceToken"), "rejected": response.get("rejectedLogEventsInfo")}
"""


def test_a_handler_writes_with_boto3_logs(lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name, LOGS_CLIENT, Timeout=30)
    now = int(time.time() * 1000)
    sent = ["custom one", "multi\nline message", '{"k": "v"}']
    result = invoke(lam, name, {"stream": "custom", "now": now, "messages": sent})
    assert result["rejected"] is None and result["token"]
    events = logs.get_log_events(logGroupName=group, logStreamName="custom", startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(now + i, m) for i, m in enumerate(sent)]
    streams = wait_for(lambda: len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 2)
    assert streams, "the function's own stream sits beside the custom one"
    assert messages(logs, group, "custom", logStreamNames=["custom"]) == ["custom one"]

    with pytest.raises(ClientError) as exc:
        logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": now, "message": "x"}])
    assert error_of(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="custom",
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
        )
    assert error_of(exc)[0] == "InvalidParameterException"
    fourteen_days = 14 * 86_400_000
    response = logs.put_log_events(
        logGroupName=group,
        logStreamName="custom",
        logEvents=[
            {"timestamp": now - fourteen_days - 3_600_000, "message": "too old"},
            {"timestamp": now - fourteen_days + 3_600_000, "message": "kept"},
        ],
    )
    assert response["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    response = logs.put_log_events(
        logGroupName=group,
        logStreamName="custom",
        logEvents=[{"timestamp": now, "message": "now"}, {"timestamp": now + 3 * 3_600_000, "message": "too new"}],
    )
    assert response["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert messages(logs, group, "", logStreamNames=["custom"])[-2:] == ["kept", "now"]


def test_missing_members_are_refused_clearly(server: RunningServer) -> None:
    import urllib.error
    import urllib.request

    for operation, body in (("GetLogEvents", {"logGroupName": "/x"}), ("PutRetentionPolicy", {"logGroupName": "/x"})):
        request = urllib.request.Request(
            server.endpoint + "/",
            data=json.dumps(body).encode(),
            headers={"X-Amz-Target": f"Logs_20140328.{operation}", "Content-Type": "application/x-amz-json-1.1"},
        )
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(request, timeout=10)
        assert exc.value.code == 400
        doc = json.loads(exc.value.read())
        assert doc["__type"].endswith("InvalidParameterException")
        assert "Member must not be null" in doc["message"]


def test_firebox_logs_follow_shows_a_later_invocation(server: RunningServer, lam: Any, logs: Any, name: str) -> None:
    group = deploy(lam, name)
    invoke(lam, name, {"lines": ["earlier line"]})
    assert wait_for(lambda: messages(logs, group, '"earlier line"'))
    follower = subprocess.Popen(
        [sys.executable, "-m", "firebox", "logs", name, "--follow", "--since", "1h", "--endpoint-url", server.endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    printed, reader = _reader(follower.stdout)
    try:
        assert _read_until(printed, "earlier line") is not None
        marker = f"later-{uuid.uuid4().hex}"
        invoke(lam, name, {"lines": [marker]})
        seen = _read_until(printed, marker)
        assert seen is not None, "the follower printed the later invocation's line"
    finally:
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        status = follower.wait(timeout=10)
        reader.join(timeout=10)
        follower.stdout.close()
        assert follower.stderr is not None
        complaints = follower.stderr.read()
        follower.stderr.close()
    assert (status, complaints) == (0, ""), "Ctrl-C ends --follow quietly"
    once = subprocess.run(
        [sys.executable, "-m", "firebox", "logs", name, "--filter", "earlier", "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert once.returncode == 0, once.stderr
    assert once.stdout.splitlines() == ["earlier line"]
    missing = subprocess.run(
        [sys.executable, "-m", "firebox", "logs", name + "-none", "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")


def _reader(stream: Any) -> tuple[queue.Queue[str], threading.Thread]:
    """The lines a follower prints, gathered by a thread (until EOF) so that waiting for one can time out."""
    lines: queue.Queue[str] = queue.Queue()
    thread = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    thread.start()
    return lines, thread


def _read_until(lines: queue.Queue[str], text: str, seconds: float = 20.0) -> str | None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if text in line:
            return line
    return None


@pytest.fixture
def sweeping_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server that sweeps logs every 0.2 s and keeps at most 20,000 bytes of them."""
    running = start_configured_server(tmp_path, "log_retention_interval = 0.2\nlog_max_bytes = 20000\n")
    yield running
    running.stop()


def test_retention_and_the_size_bound_delete_old_events(sweeping_server: RunningServer) -> None:
    logs = sweeping_server.client(service="logs")
    now = int(time.time() * 1000)
    logs.create_log_group(logGroupName="/kept")
    logs.create_log_stream(logGroupName="/kept", logStreamName="s")
    logs.create_log_group(logGroupName="/retained")
    logs.create_log_stream(logGroupName="/retained", logStreamName="s")
    three_days = now - 3 * 86_400_000
    logs.put_log_events(
        logGroupName="/retained",
        logStreamName="s",
        logEvents=[{"timestamp": three_days, "message": "old"}, {"timestamp": three_days + 1, "message": "older"}],
    )
    logs.put_log_events(logGroupName="/retained", logStreamName="s", logEvents=[{"timestamp": now, "message": "new"}])
    logs.put_log_events(logGroupName="/kept", logStreamName="s", logEvents=[{"timestamp": three_days, "message": "a"}])
    time.sleep(0.5)  # a sweep or two pass: nothing has a retention yet, nothing is deleted
    assert messages(logs, "/retained") == ["old", "older", "new"]
    logs.put_retention_policy(logGroupName="/retained", retentionInDays=1)
    assert wait_for(lambda: messages(logs, "/retained") == ["new"])
    assert messages(logs, "/kept") == ["a"], "a group without retention keeps its events"
    stream = logs.describe_log_streams(logGroupName="/retained")["logStreams"][0]
    assert stream["storedBytes"] == len("new") and stream["firstEventTimestamp"] == now

    logs.create_log_stream(logGroupName="/kept", logStreamName="bulk")
    for batch in range(5):
        logs.put_log_events(
            logGroupName="/kept",
            logStreamName="bulk",
            logEvents=[{"timestamp": now + batch * 10 + i, "message": f"{batch}-{i}-" + "x" * 990} for i in range(10)],
        )

    def total() -> int:
        return sum(g["storedBytes"] for g in logs.describe_log_groups()["logGroups"])

    assert wait_for(lambda: total() <= 20_000)
    kept = messages(logs, "/kept", "", logStreamNames=["bulk"])
    assert 10 <= len(kept) < 50 and kept[-1].startswith("4-9-"), "the oldest went first"
    assert messages(logs, "/kept", "", logStreamNames=["s"]) == [], "older than the bulk, so deleted before it"
