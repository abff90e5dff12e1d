"""Which poller reads which kind of source: the one table the manager looks a mapping's poller up in."""

from __future__ import annotations

from collections.abc import Callable

from firebox.eventsources.dynamodb_streams import dynamodb_poller
from firebox.eventsources.kinesis import kinesis_poller
from firebox.eventsources.poller import Poller, PollerContext
from firebox.eventsources.rabbitmq import RabbitMqPoller
from firebox.eventsources.sqs import SqsPoller
from firebox.models.mappings import EventSourceMapping, SourceKind

PollerFactory = Callable[[EventSourceMapping, PollerContext], Poller]

FACTORIES: dict[SourceKind, PollerFactory] = {
    SourceKind.SQS: SqsPoller,
    SourceKind.MQ: RabbitMqPoller,
    SourceKind.KINESIS: kinesis_poller,
    SourceKind.DYNAMODB: dynamodb_poller,
}
"""One entry per source kind."""
