"""Delivering to destinations that can fail:

- SQS queues (`arn:aws:sqs:<region>:<account>:<name>`), reached through the SQS API at the configured SQS endpoint
  (`firebox.aws_endpoints`: real SQS, ElasticMQ, moto or any SQS-compatible server): the record is the message
  body; dead-letter messages carry the original payload and the RequestID / ErrorCode / ErrorMessage attributes;
- SNS topics (`arn:aws:sns:<region>:<account>:<name>`), through the SNS API (Publish to the topic ARN) at the
  configured SNS endpoint, the same way: the record (or the original payload) is the message;
- event buses (`arn:aws:events:<region>:<account>:event-bus/<name>`): Firebox's own EventBridge (an
  `EventPublisher`) gets an event with source `lambda`, detail-type `Lambda Function Invocation Result - Success`
  (or `- Failure`), resources [the bus ARN, the function ARN] and the record as its detail, and routes it through
  the bus's rules; the delivery is done once those deliveries are durable;
- webhooks (a Firebox extension): an `http://` or `https://` URL receives the record as a JSON POST.

A delivery is written to the `deliveries` table before the event it describes is finished, then sent by this
deliverer; a failure (no 2xx, an SQS error, no answer within `TIMEOUT`) is retried with a backoff doubling from 1 s
to 5 min (scaled like the async retries), for as long as it takes. Failures are counted; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from firebox.aws_endpoints import AwsClients, ServiceNotConfigured
from firebox.models.asynchronous import Delivery
from firebox.observability.telemetry import Telemetry
from firebox.outbound import post_json
from firebox.store.base import AsyncStore

log = logging.getLogger("firebox.asyncinvoke")
TIMEOUT = 10.0
LEASE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
POLL_SECONDS = 0.5
BATCH = 16


def is_webhook(destination: str) -> bool:
    return destination.startswith(("http://", "https://"))


def is_sqs(destination: str) -> bool:
    return destination.startswith("arn:aws:sqs:")


def is_sns(destination: str) -> bool:
    return destination.startswith("arn:aws:sns:")


def is_event_bus(destination: str) -> bool:
    return destination.startswith("arn:aws:events:") and ":event-bus/" in destination


def is_outbound(destination: str) -> bool:
    """Destinations the Deliverer sends to (through the `deliveries` outbox), rather than Event invocations of a
    function: webhooks, SQS queues, SNS topics and event buses."""
    return is_webhook(destination) or is_sqs(destination) or is_sns(destination) or is_event_bus(destination)


class EventPublisher(Protocol):
    """Where event-bus destinations go: Firebox's EventBridge (`firebox.eventsources.event_bus.EventBridge`)."""

    async def publish(
        self, bus_arn: str, source: str, detail_type: str, detail: Mapping[str, Any], resources: list[str]
    ) -> None:
        """Put one event on the bus; return once what its rules deliver is durable."""
        ...


class Deliverer:
    def __init__(
        self,
        store: AsyncStore,
        executor: Executor,
        retry_scale: float,
        clients: AwsClients,
        telemetry: Telemetry,
        events: EventPublisher | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._events = events
        self._store = store
        self._executor = executor
        self.retry_scale = retry_scale
        self._clients = clients
        self.failures = 0
        """Failed delivery attempts since start (each retried)."""
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run_forever(self) -> None:
        await self._run(self._store.release_delivery_leases)
        while True:
            now = time.time()
            deliveries = await self._run(self._store.lease_deliveries, now, now + LEASE_SECONDS, BATCH)
            await asyncio.gather(*(self._deliver(delivery) for delivery in deliveries))
            if not deliveries:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                self._wake.clear()

    async def _deliver(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        if is_event_bus(delivery.destination):
            error = await self._publish(delivery)
        else:
            send = (
                self._send_sqs
                if is_sqs(delivery.destination)
                else self._send_sns
                if is_sns(delivery.destination)
                else _post
            )
            error = await self._run(send, delivery)
        if error is None:
            await self._run(self._store.finish_delivery, delivery.id)
            return
        self.failures += 1
        if delivery.source_function is not None:
            metric = "DeadLetterErrors" if delivery.dead_letter else "DestinationDeliveryFailures"
            self._telemetry.count(metric, delivery.source_function, 1, time.time())
        attempts = delivery.attempts + 1
        delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempts - 1)) * self.retry_scale
        log.warning(
            "delivery to %s failed (attempt %d, again in %.1f s): %s", delivery.destination, attempts, delay, error
        )
        await self._run(self._store.retry_delivery, delivery.id, time.time() + delay, attempts, error)

    def _send_sqs(self, delivery: Delivery) -> str | None:
        """SendMessage to the queue the ARN names; None on success, else what went wrong. Runs in a worker thread."""
        _, _, _, region, account, name = delivery.destination.split(":", 5)
        try:
            client = self._clients.client("sqs", region)
            url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            attributes = _message_attributes(delivery)
            extra: dict[str, Any] = {}
            if delivery.trace_id:
                extra["MessageSystemAttributes"] = {
                    "AWSTraceHeader": {"DataType": "String", "StringValue": delivery.trace_id}
                }
            client.send_message(
                QueueUrl=url,
                MessageBody=delivery.body.decode("utf-8", "replace"),
                MessageAttributes=attributes,
                **extra,
            )
        except (BotoCoreError, ClientError, ServiceNotConfigured) as exc:
            return str(exc)
        return None

    def _send_sns(self, delivery: Delivery) -> str | None:
        """Publish to the topic the ARN names; None on success, else what went wrong. Runs in a worker thread."""
        region = delivery.destination.split(":", 5)[3]
        try:
            client = self._clients.client("sns", region)
            extra: dict[str, Any] = {}
            if delivery.attributes:
                extra["MessageAttributes"] = _message_attributes(delivery)
            client.publish(TopicArn=delivery.destination, Message=delivery.body.decode("utf-8", "replace"), **extra)
        except (BotoCoreError, ClientError, ServiceNotConfigured) as exc:
            return str(exc)
        return None

    async def _publish(self, delivery: Delivery) -> str | None:
        """An invocation record as an event on the bus; None once its deliveries are durable, else what went wrong."""
        if self._events is None:
            return "no EventBridge to publish to"
        try:
            record = json.loads(delivery.body)
            context = record["requestContext"]
            outcome = "Success" if context["condition"] == "Success" else "Failure"
            await self._events.publish(
                delivery.destination,
                "lambda",
                f"Lambda Function Invocation Result - {outcome}",
                record,
                [delivery.destination, context["functionArn"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            return f"the invocation record cannot be published: {exc!r}"
        except Exception as exc:  # the bus's own deliveries failed to be written: try again later
            log.exception("publishing to %s failed", delivery.destination)
            return str(exc) or type(exc).__name__
        return None


def _message_attributes(delivery: Delivery) -> dict[str, dict[str, str]]:
    """SQS and SNS message attributes: values starting with "#" are numbers."""
    return {
        key: {"DataType": "Number", "StringValue": value[1:]}
        if value.startswith("#")
        else {"DataType": "String", "StringValue": value}
        for key, value in delivery.attributes.items()
    }


def _post(delivery: Delivery) -> str | None:
    """POST the record; None on a 2xx answer, else what went wrong."""
    headers = {"X-Amzn-Trace-Id": delivery.trace_id} if delivery.trace_id else {}
    return post_json(delivery.destination, delivery.body, TIMEOUT, headers)
