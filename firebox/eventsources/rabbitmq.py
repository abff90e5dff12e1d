"""The Amazon MQ (RabbitMQ) poller: consumes one queue of a RabbitMQ broker, invokes the function with batches in
Lambda's `aws:rmq` event shape, and acknowledges what was processed.

The mapping's EventSourceArn names an Amazon MQ broker; the `brokers` setting says which AMQP URL stands for it
(credentials in the URL). A VIRTUAL_HOST SourceAccessConfiguration picks the virtual host, overriding the URL's.
BASIC_AUTH names a Secrets Manager secret, which Firebox cannot read: it is accepted when the broker's URL carries
a user and password (they stand in for the secret) and refused otherwise (`broker_address`).

As Lambda does for RabbitMQ:
- one batch at a time per mapping (Lambda runs one execution environment per RabbitMQ mapping);
- a batch is gathered until BatchSize messages, the batching window (500 ms when the mapping has none: the API
  counts whole seconds, and Lambda's default for Amazon MQ is half of one) or 6 MB of event, whichever comes first;
  a single message too big for any batch is dropped (acknowledged and counted as DroppedEventCount);
- FilterCriteria (on the `data` key): messages no filter keeps are acknowledged without an invocation;
- after a successful invocation the batch is acknowledged (one multiple ack); after a function error it is nacked
  with requeue, so RabbitMQ delivers it again with `redelivered` true. Lambda sets no limit on redeliveries: a
  message that always fails comes back for ever unless the queue limits deliveries itself (a quorum queue's
  `x-delivery-limit`, with a dead-letter exchange to keep what it drops). The prefetch is twice the batch size, so
  the next batch is taken from messages already delivered behind a failed one: a poison message costs invocations
  but does not hold up the rest of the queue (only the messages sharing its batch). A short pause follows each
  function error, so such a message does not run the function hundreds of times a second;
- a batch that could not be invoked at all (throttled, the function missing or not active) is nacked with requeue
  and the poller backs off;
- when the broker is unreachable or goes away the poller reports `PROBLEM: Connection error. ...` and reconnects
  with a growing back-off. Messages not yet acknowledged go back to the queue with the connection (at least once).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import decimal
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
import orjson
import pamqp.exceptions
from aio_pika.abc import AbstractConnection
from aiormq.abc import DeliveredMessage

from firebox.brokers import BrokerAddress, broker_address
from firebox.errors import InvalidParameterValueException
from firebox.eventsources.poller import OK, PROBLEM_FUNCTION, BatchOutcome, PollerContext
from firebox.expressions.filters import RecordFilter
from firebox.models.mappings import EventSourceMapping

log = logging.getLogger("firebox.eventsources.rabbitmq")

DEFAULT_WINDOW = 0.5
"""Seconds a batch is gathered for when the mapping's MaximumBatchingWindowInSeconds is 0 (Lambda's default)."""
PAYLOAD_LIMIT = 6_291_456 - 65_536
"""What a batch's records may add up to: the synchronous payload limit, less room for the event's own members."""
PREFETCH_LIMIT = 65_535
"""basic.qos's prefetch count is a 16-bit number."""
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
RECONNECT_PAUSE = 1.0
RECONNECT_PAUSE_LIMIT = 60.0
"""The back-off between connection attempts starts at `RECONNECT_PAUSE` and doubles up to this (both scaled by
`poll_interval_scale`)."""
THROTTLE_PAUSE = 1.0
FAILURE_PAUSE = 0.1
"""After a function error: keeps a message that always fails from running the function hundreds of times a
second."""

_BROKER_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    pamqp.exceptions.PAMQPException,
    OSError,
    TimeoutError,
)
"""What the broker going away, refusing us or answering with a channel error raises."""


class BrokerGone(Exception):
    """The channel closed, or the broker cancelled the consumer (the queue was deleted)."""


@dataclass(slots=True)
class _Delivery:
    tag: int
    record: dict[str, Any]
    size: int
    """Bytes the record adds to the event."""


_Item = DeliveredMessage | BaseException
"""What the consumer's queue holds: deliveries, and the reason it ended (the channel closed, the consumer was
cancelled)."""


class RabbitMqPoller:
    def __init__(self, mapping: EventSourceMapping, context: PollerContext) -> None:
        self.mapping = mapping
        self.context = context
        self.queue_name = str((mapping.params.get("Queues") or [""])[0])
        self.filter = RecordFilter.from_criteria(mapping.params.get("FilterCriteria"))
        self.window = mapping.batching_window or DEFAULT_WINDOW
        self.prefetch = min(PREFETCH_LIMIT, 2 * mapping.batch_size)
        self.address: BrokerAddress | None = None
        self.problem = ""
        try:
            self.address = broker_address(mapping.source_arn, mapping.params, context.brokers)
        except InvalidParameterValueException as exc:
            self.problem = exc.message
        self.key = f"{self.queue_name}::{self.address.vhost if self.address else '/'}"
        """The event's key for the queue's messages: `<queue>::<virtual host>`."""
        self._carry: _Delivery | None = None
        """A delivery that did not fit in the last batch (the payload limit): the first of the next."""

    async def run(self) -> None:
        if self.address is None:
            self.context.report(self.mapping, f"PROBLEM: Connection error. {self.problem}")
            await asyncio.Event().wait()  # the settings cannot change while the server runs: wait to be cancelled
            return
        address = self.address
        pause = RECONNECT_PAUSE
        while True:
            connected = False
            try:
                connection = await aio_pika.connect(
                    address.url,
                    timeout=CONNECT_TIMEOUT,
                    client_properties={"connection_name": f"firebox mapping {self.mapping.uuid}"},
                )
                connected = True
                try:
                    await self._consume(connection)
                finally:
                    await _close(connection)
            except (*_BROKER_ERRORS, BrokerGone) as exc:
                text = f"{address.safe}: {str(exc) or type(exc).__name__}"
                self.context.report(self.mapping, f"PROBLEM: Connection error. {text}")
                log.info("mapping %s: %s", self.mapping.uuid, text)
            self._carry = None  # its delivery tag belonged to the connection that is gone
            pause = RECONNECT_PAUSE if connected else min(RECONNECT_PAUSE_LIMIT, pause * 2)
            await self.context.pause(pause)

    async def _consume(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        await channel.declare_queue(self.queue_name, passive=True)  # a missing queue: ChannelNotFoundEntity
        items: asyncio.Queue[_Item] = asyncio.Queue()

        def closed(_channel: Any, exc: BaseException | None = None) -> None:
            items.put_nowait(exc or BrokerGone("the channel closed"))

        def cancelled(_frame: Any) -> None:
            items.put_nowait(BrokerGone(f"the broker cancelled the consumer of {self.queue_name} (deleted?)"))

        async def delivered(message: DeliveredMessage) -> None:
            items.put_nowait(message)

        underlay = await channel.get_underlay_channel()
        channel.close_callbacks.add(closed)
        underlay.on_consumer_cancel_callbacks.add(cancelled)
        await underlay.basic_consume(self.queue_name, delivered, no_ack=False)
        while True:
            batch = await self._gather(items, underlay)
            await self._process(underlay, batch)

    async def _gather(self, items: asyncio.Queue[_Item], channel: aiormq.abc.AbstractChannel) -> list[_Delivery]:
        """One batch: deliveries until the batch size, the batching window (from the first) or the payload limit.
        A message too large for any batch is dropped here."""
        batch: list[_Delivery] = []
        size = 0
        deadline: float | None = None
        while len(batch) < self.mapping.batch_size:
            if self._carry is not None:
                delivery, self._carry = self._carry, None
            else:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                message = await _next(items, left)
                if message is None:
                    break  # the window closed
                delivery = _delivery(message)
            if deadline is None:
                deadline = time.monotonic() + self.window
            if delivery.size > PAYLOAD_LIMIT:
                log.warning(
                    "mapping %s: dropped a message of %d bytes from %s: larger than an invocation's payload",
                    self.mapping.uuid,
                    delivery.size,
                    self.key,
                )
                await channel.basic_ack(delivery.tag)
                self.context.count(self.mapping, "DroppedEventCount", 1)
                continue
            if size + delivery.size > PAYLOAD_LIMIT:
                self._carry = delivery
                break
            batch.append(delivery)
            size += delivery.size
        return batch

    async def _process(self, channel: aiormq.abc.AbstractChannel, batch: Sequence[_Delivery]) -> None:
        """Invoke with the batch's kept messages, then settle the batch. Delivery tags rise in the order messages
        arrive and every earlier delivery is settled already, so one multiple ack (or nack) of the batch's last
        tag settles exactly the batch."""
        mapping, context = self.mapping, self.context
        if not batch:
            return
        context.count(mapping, "PolledEventCount", len(batch))
        kept: list[_Delivery] = []
        filtered: list[_Delivery] = []
        for delivery in batch:
            (kept if self.filter.empty or self.filter.keeps(delivery.record, "mq") else filtered).append(delivery)
        if filtered:
            context.count(mapping, "FilteredOutEventCount", len(filtered))
        if not kept:
            await channel.basic_ack(batch[-1].tag, multiple=True)
            return
        event = {
            "eventSource": "aws:rmq",
            "eventSourceArn": mapping.source_arn,
            "rmqMessagesByQueue": {self.key: [d.record for d in kept]},
        }
        result = await context.invoke(mapping, event)
        if result.outcome is BatchOutcome.SUCCESS:
            context.count(mapping, "InvokedEventCount", len(kept))
            await channel.basic_ack(batch[-1].tag, multiple=True)
            context.report(mapping, OK)
            return
        for delivery in filtered:  # dropped by the filter whatever becomes of the rest
            await channel.basic_ack(delivery.tag)
        await channel.basic_nack(kept[-1].tag, multiple=True, requeue=True)
        if result.outcome is BatchOutcome.NOT_INVOKED:
            context.report(mapping, f"{PROBLEM_FUNCTION}. {result.error}")
            await context.pause(THROTTLE_PAUSE)
            return
        context.count(mapping, "InvokedEventCount", len(kept))
        context.count(mapping, "FailedInvokeEventCount", len(kept))
        context.report(mapping, PROBLEM_FUNCTION)
        await context.pause(FAILURE_PAUSE)


def _delivery(message: DeliveredMessage) -> _Delivery:
    record = message_record(message)
    tag = message.delivery_tag
    assert tag is not None  # basic.deliver always carries one
    return _Delivery(tag, record, len(orjson.dumps(record)))


def message_record(message: DeliveredMessage) -> dict[str, Any]:
    """One delivery in Lambda's RabbitMQ record shape: the AMQP basic properties as Lambda's Java poller writes them
    (absent ones null, string header values as `{"bytes": [...]}`, timestamps as `Jan 1, 1970, 12:33:41 AM`, UTC),
    whether it was delivered before, and the body in base64."""
    props = message.header.properties
    return {
        "basicProperties": {
            "contentType": props.content_type,
            "contentEncoding": props.content_encoding,
            "headers": None if props.headers is None else {str(k): _header(v) for k, v in props.headers.items()},
            "deliveryMode": props.delivery_mode,
            "priority": props.priority,
            "correlationId": props.correlation_id,
            "replyTo": props.reply_to,
            "expiration": props.expiration,
            "messageId": props.message_id,
            "timestamp": None if props.timestamp is None else java_date(props.timestamp),
            "type": props.message_type,
            "userId": props.user_id,
            "appId": props.app_id,
            "clusterId": props.cluster_id,
            "bodySize": len(message.body),
        },
        "redelivered": bool(message.redelivered),
        "data": base64.b64encode(message.body).decode(),
    }


def _header(value: Any) -> Any:
    """A header value as Lambda writes it: a string (AMQP long string) as its bytes, signed as Java's are."""
    if isinstance(value, str):
        return {"bytes": _java_bytes(value.encode())}
    if isinstance(value, bytes):  # a long string that is not UTF-8
        return {"bytes": _java_bytes(value)}
    if isinstance(value, bytearray):  # AMQP byte array: a plain byte[]
        return _java_bytes(bytes(value))
    if isinstance(value, datetime.datetime):
        return java_date(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, Mapping):
        return {str(k): _header(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_header(v) for v in value]
    return value


def _java_bytes(data: bytes) -> list[int]:
    return [b - 256 if b > 127 else b for b in data]


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_date(moment: datetime.datetime) -> str:
    """A timestamp as Lambda's poller (Gson's default date format, en-US, UTC) writes it: `Jan 1, 1970, 12:33:41 AM`."""
    utc = moment.astimezone(datetime.UTC) if moment.tzinfo else moment
    hour = utc.hour % 12 or 12
    half = "AM" if utc.hour < 12 else "PM"
    return f"{_MONTHS[utc.month - 1]} {utc.day}, {utc.year}, {hour}:{utc.minute:02d}:{utc.second:02d} {half}"


async def _next(items: asyncio.Queue[_Item], seconds: float | None) -> DeliveredMessage | None:
    """The next delivery; None if `seconds` pass first; raises why the consumer ended if it did."""
    try:
        async with asyncio.timeout(seconds):
            item = await items.get()
    except TimeoutError:
        return None
    if isinstance(item, BaseException):
        items.put_nowait(item)  # every later call raises it too
        raise item
    return item


async def _close(connection: AbstractConnection) -> None:
    """Close the connection (what is not acknowledged goes back to the queue), not waiting long for a broker
    that is gone."""
    with contextlib.suppress(*_BROKER_ERRORS, RuntimeError):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await connection.close()
