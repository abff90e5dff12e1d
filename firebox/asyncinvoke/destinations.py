"""Delivering to destinations that can fail:

- SQS queues (`arn:aws:sqs:<region>:<account>:<name>`), reached through the SQS API at the configured SQS endpoint
  (`firebox.aws_endpoints`: real SQS, ElasticMQ, moto or any SQS-compatible server): the record is the message
  body; dead-letter messages carry the original payload and the RequestID / ErrorCode / ErrorMessage attributes;
- webhooks (a Firebox extension): an `http://` or `https://` URL receives the record as a JSON POST.

A delivery is written to the `deliveries` table before the event it describes is finished, then sent by this
deliverer; a failure (no 2xx, an SQS error, no answer within `TIMEOUT`) is retried with a backoff doubling from 1 s
to 5 min (scaled like the async retries), for as long as it takes. Failures are counted; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Executor
from typing import Any

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


class Deliverer:
    def __init__(
        self,
        store: AsyncStore,
        executor: Executor,
        retry_scale: float,
        clients: AwsClients,
        telemetry: Telemetry,
    ) -> None:
        self._telemetry = telemetry
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
        send = self._send_sqs if is_sqs(delivery.destination) else _post
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
            attributes = {
                key: {"DataType": "Number", "StringValue": value[1:]}
                if value.startswith("#")
                else {"DataType": "String", "StringValue": value}
                for key, value in delivery.attributes.items()
            }
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


def _post(delivery: Delivery) -> str | None:
    """POST the record; None on a 2xx answer, else what went wrong."""
    headers = {"X-Amzn-Trace-Id": delivery.trace_id} if delivery.trace_id else {}
    return post_json(delivery.destination, delivery.body, TIMEOUT, headers)
