"""The AWS services Firebox talks to on its own account (SQS, Kinesis, DynamoDB and its streams, SNS, S3), found the
way the AWS SDKs find them: `AWS_ENDPOINT_URL_<SERVICE>` first, then `AWS_ENDPOINT_URL`, each also a key of
Firebox's settings (`aws_endpoint_url_sqs`, `aws_endpoint_url`); the older `sqs_endpoint` setting stands for
`aws_endpoint_url_sqs`.

`AwsEndpoints` answers where a service is and what execution environments are told (so a handler's
`boto3.client("sqs")` reaches the queues Firebox polls); `AwsClients` makes and keeps the boto3 clients and runs
their blocking calls on threads of its own, so that a 20-second SQS long poll never holds a control-plane thread.
A service with no endpoint is refused with `ServiceNotConfigured`, which names the settings that would configure it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

import boto3
from botocore.config import Config

SERVICES: Mapping[str, str] = {
    "sqs": "SQS",
    "kinesis": "KINESIS",
    "dynamodb": "DYNAMODB",
    "dynamodbstreams": "DYNAMODB_STREAMS",
    "sns": "SNS",
    "s3": "S3",
}
"""boto3's service name → the suffix of its `AWS_ENDPOINT_URL_<SERVICE>` variable (botocore's service id, upper
case, spaces as underscores)."""

SERVED_HERE = ("LAMBDA", "CLOUDWATCH", "LOGS", "CLOUDWATCH_LOGS", "EVENTS", "EVENTBRIDGE", "SCHEDULER")
"""Services Firebox itself answers on its endpoint: environments are pointed at it for these whatever else is set
(`CLOUDWATCH_LOGS` is what botocore reads for logs, `EVENTBRIDGE` for events)."""

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
"""Longer than SQS's longest long poll (20 s)."""


class ServiceNotConfigured(Exception):
    """An outbound call to a service Firebox has no endpoint for."""

    def __init__(self, service: str) -> None:
        suffix = SERVICES.get(service, service.upper())
        super().__init__(
            f"Firebox has no endpoint for {service}: set AWS_ENDPOINT_URL_{suffix} (or AWS_ENDPOINT_URL), or "
            f"aws_endpoint_url_{suffix.lower()} in the config file"
        )
        self.service = service


class AwsEndpoints:
    def __init__(self, default: str, per_service: Mapping[str, str]) -> None:
        """`default` is AWS_ENDPOINT_URL's value ("" for none); `per_service` maps boto3 service names to theirs."""
        self.default = default
        self._urls = {service: per_service.get(service) or default for service in SERVICES}

    @classmethod
    def from_settings(cls, settings: Any) -> AwsEndpoints:
        per_service = {
            service: getattr(settings, f"aws_endpoint_url_{suffix.lower()}") for service, suffix in SERVICES.items()
        }
        per_service["sqs"] = per_service["sqs"] or settings.sqs_endpoint
        return cls(settings.aws_endpoint_url, per_service)

    def url(self, service: str) -> str | None:
        """The endpoint Firebox reaches `service` at, None if none is configured."""
        return self._urls.get(service) or None

    def require(self, service: str) -> str:
        url = self.url(service)
        if url is None:
            raise ServiceNotConfigured(service)
        return url

    def environment(self, own_endpoint: str) -> dict[str, str]:
        """The endpoint variables every execution environment gets: the configured services, and Firebox's own
        endpoint for the services it hosts."""
        variables = {
            f"AWS_ENDPOINT_URL_{suffix}": url for service, suffix in SERVICES.items() if (url := self.url(service))
        }
        if self.default:
            variables["AWS_ENDPOINT_URL"] = self.default
        variables.update({f"AWS_ENDPOINT_URL_{suffix}": own_endpoint for suffix in SERVED_HERE})
        return variables


class AwsClients:
    """boto3 clients for the configured endpoints, one per (service, region), and the threads their calls run on."""

    def __init__(self, endpoints: AwsEndpoints, threads: int = 64) -> None:
        self.endpoints = endpoints
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._threads = _DaemonThreads(threads)
        session = boto3.session.Session()
        self._dummy_credentials = session.get_credentials() is None  # a local SQS or moto takes any

    def client(self, service: str, region: str) -> Any:
        """The client for `service` in `region`; raises `ServiceNotConfigured` if it has no endpoint."""
        key = (service, region)
        client = self._clients.get(key)
        if client is None:
            url = self.endpoints.require(service)
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    session: Any = boto3.session.Session()  # typed per service name; ours is a variable
                    client = self._clients[key] = session.client(
                        service,
                        region_name=region,
                        endpoint_url=url,
                        aws_access_key_id="firebox" if self._dummy_credentials else None,
                        aws_secret_access_key="firebox" if self._dummy_credentials else None,
                        config=Config(
                            connect_timeout=CONNECT_TIMEOUT,
                            read_timeout=READ_TIMEOUT,
                            retries={"total_max_attempts": 1},
                            max_pool_connections=64,
                        ),
                    )
        return client

    async def call(self, service: str, region: str, operation: str, **params: Any) -> Any:
        """`client.<operation>(**params)` on one of this object's threads: its answer, or botocore's exception."""
        method = getattr(self.client(service, region), operation)
        return await asyncio.wrap_future(self._threads.submit(lambda: method(**params)))

    def call_soon(self, service: str, region: str, operation: str, **params: Any) -> None:
        """The same call, not waited for (from a callback, where nothing can await): errors are dropped."""
        method = getattr(self.client(service, region), operation)
        self._threads.submit(lambda: method(**params))

    def close(self) -> None:
        """Stop taking calls. A long poll still in flight is left to its daemon thread and its answer dropped:
        it never holds up the server's exit."""
        self._threads.stop()


class _DaemonThreads:
    """A fixed set of daemon threads taking calls from a queue: unlike `ThreadPoolExecutor`'s, the interpreter does
    not wait for them at exit, so a 20-second SQS long poll cannot delay a shutdown."""

    def __init__(self, count: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._count = count
        self._started = 0
        self._idle = 0
        """Threads waiting for a call."""
        self._queued = 0
        """Calls no thread has taken yet."""
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and self._started < self._count:
                self._started += 1
                threading.Thread(target=self._work, name=f"firebox-aws-{self._started}", daemon=True).start()
        self._calls.put((fn, future))
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._calls.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._queued -= 1
            if item is None:
                return
            fn, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

    def stop(self) -> None:
        for _ in range(self._started):
            self._calls.put(None)
