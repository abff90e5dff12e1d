"""What an SQS event source mapping delivers, next to what the SQS endpoint itself serves, in the same run.

    python bench/event_sources.py [--messages 2000] [--rounds 3] [--latency-samples 20] [--memory 1769]

moto in server mode is the SQS endpoint (started here on a free port). Each round:
- reference: one consumer (boto3, one thread) drains a queue of `--messages` messages with ReceiveMessage (10 at a
  time) and DeleteMessageBatch: messages per second;
- mapping: the same number of messages in a fresh queue, then a mapping (BatchSize 10, no batching window) to a
  no-op function at `--memory` MB; messages per second from the mapping's creation until the queue is empty
  (every message deleted after a successful invocation);
- latency: `--latency-samples` single messages, one at a time, into an idle mapping; from just before SendMessage
  to the handler's first line (both read the same wall clock), next to a direct Invoke of the same function
  (from just before the request to the handler's first line).
The figures are the medians over the rounds (latencies: the median of every sample).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, start_firebox, stop, wait_http  # noqa: E402
from invoke import ROLE, RUNTIME  # noqa: E402

APP = (
    "import time\n"
    "def handler(event, context):\n"
    "    now = time.time()\n"
    "    if 'Records' in event:\n"
    "        for record in event['Records']:\n"
    "            if record['body'].startswith('latency '):\n"
    "                print('LATENCY %s %.6f' % (record['body'].split()[1], now))\n"
    "    elif 'probe' in event:\n"
    "        print('LATENCY %s %.6f' % (event['probe'], now))\n"
    "    return {}\n"
)


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=300, max_pool_connections=32),
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", APP)
    return buffer.getvalue()


def _fill(sqs: Any, count: int) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(min(10, count - start))],
        )
    return url, arn


def _left(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def reference_rate(sqs: Any, count: int) -> float:
    url, _ = _fill(sqs, count)
    done = 0
    start = time.perf_counter()
    while done < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            done += len(messages)
    return count / (time.perf_counter() - start)


def _deleted(server: str, mapping_uuid: str) -> float:
    """The mapping's DeletedEventCount, from Firebox (asking the SQS endpoint would load what is measured)."""
    with urllib.request.urlopen(f"{server}/firebox/mappings", timeout=10) as response:
        figures = json.loads(response.read())["Mappings"].get(mapping_uuid, {})
    return float(figures.get("DeletedEventCount", 0))


def mapping_rate(sqs: Any, lam: Any, server: str, function: str, count: int) -> float:
    url, arn = _fill(sqs, count)
    start = time.perf_counter()
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=10)
    while _deleted(server, mapping["UUID"]) < count:
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    assert _left(sqs, url) == 0
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return count / elapsed


def _handler_times(logs: Any, function: str, wanted: set[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not wanted <= set(found):
        for event in logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]:
            if event["message"].startswith("LATENCY "):
                _, probe, at = event["message"].split()
                found[probe] = float(at)
        time.sleep(0.2)
    return found


def latencies(sqs: Any, lam: Any, logs: Any, function: str, samples: int) -> tuple[list[float], list[float]]:
    url, arn = _fill(sqs, 0)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=1)
    while lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Enabled":
        time.sleep(0.05)
    time.sleep(1)  # the pollers' long polls are waiting
    sent: dict[str, float] = {}
    invoked: dict[str, float] = {}
    for n in range(samples):
        probe = f"sqs{n}-{uuid.uuid4().hex[:6]}"
        sent[probe] = time.time()
        sqs.send_message(QueueUrl=url, MessageBody=f"latency {probe}")
        _handler_times(logs, function, {probe})
        direct = f"invoke{n}-{uuid.uuid4().hex[:6]}"
        invoked[direct] = time.time()
        lam.invoke(FunctionName=function, Payload=json.dumps({"probe": direct}).encode())
    times = _handler_times(logs, function, set(sent) | set(invoked))
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return (
        [(times[p] - t) * 1000 for p, t in sent.items() if p in times],
        [(times[p] - t) * 1000 for p, t in invoked.items() if p in times],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument("--memory", type=int, default=1769)
    args = parser.parse_args()
    moto_port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{moto_port}"
    wait_http(endpoint + "/moto-api/", moto)
    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        config = Path(tmp) / "firebox.toml"
        config.write_text(f'aws_endpoint_url = "{endpoint}"\n')
        process, port = start_firebox(Path(tmp) / "data", "--config", str(config))
        try:
            server = f"http://127.0.0.1:{port}"
            sqs, lam, logs = _client("sqs", endpoint), _client("lambda", server), _client("logs", server)
            lam.create_function(
                FunctionName="bench-esm",
                Runtime=RUNTIME,
                Role=ROLE,
                Handler="app.handler",
                MemorySize=args.memory,
                Code={"ZipFile": _zip()},
            )
            while lam.get_function_configuration(FunctionName="bench-esm")["State"] != "Active":
                time.sleep(0.05)
            references, mapped = [], []
            for _ in range(args.rounds):
                references.append(reference_rate(sqs, args.messages))
                mapped.append(mapping_rate(sqs, lam, server, "bench-esm", args.messages))
            sqs_latency, invoke_latency = latencies(sqs, lam, logs, "bench-esm", args.latency_samples)
        finally:
            stop(process)
            moto.terminate()
            moto.wait(timeout=10)
    reference, mapping = statistics.median(references), statistics.median(mapped)
    report = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "messages": args.messages,
        "rounds": args.rounds,
        "sqs_one_consumer_msgs_per_s": round(reference, 1),
        "mapping_msgs_per_s": round(mapping, 1),
        "mapping_over_sqs": round(mapping / reference, 3),
        "rounds_sqs": [round(x, 1) for x in references],
        "rounds_mapping": [round(x, 1) for x in mapped],
        "send_to_start_ms_p50": round(statistics.median(sqs_latency), 2),
        "invoke_to_start_ms_p50": round(statistics.median(invoke_latency), 2),
        "added_by_the_mapping_ms_p50": round(statistics.median(sqs_latency) - statistics.median(invoke_latency), 2),
        "latency_samples": len(sqs_latency),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
