"""The on-failure destination of a Kinesis or DynamoDB Streams mapping (DestinationConfig.OnFailure): the invocation
record AWS writes for a batch the mapping discards (retries exhausted, records too old), and its delivery to the SQS
queue or SNS topic. Also the AWS call errors and their texts that the stream readers share with it, and the time
formats the record writes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from firebox.aws_endpoints import ServiceNotConfigured
from firebox.eventsources.poller import BatchOutcome, BatchResult

if TYPE_CHECKING:
    from firebox.eventsources.streams import StreamPoller, StreamRecord

log = logging.getLogger("firebox.eventsources.streams")

SOURCE_ERRORS = (BotoCoreError, ClientError, ServiceNotConfigured)
ERROR_PAUSE = 5.0
DELIVERY_ATTEMPTS = 3


def error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc) or type(exc).__name__


def iso_seconds(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FailureDestination:
    """Where one mapping's discarded batches are described: the poller's `destination` (an SQS or SNS ARN)."""

    def __init__(self, poller: StreamPoller) -> None:
        self.poller = poller
        self._queue_urls: dict[str, str] = {}

    async def deliver(
        self, shard_id: str, records: Sequence[StreamRecord], condition: str, invokes: int, last: BatchResult | None
    ) -> bool:
        poller = self.poller
        body = orjson.dumps(self.failure_record(shard_id, records, condition, invokes, last)).decode()
        target = poller.destination
        region = target.split(":")[3]
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                if target.startswith("arn:aws:sqs:"):
                    url = await self._queue_url(target)
                    await poller.context.clients.call("sqs", region, "send_message", QueueUrl=url, MessageBody=body)
                else:
                    await poller.context.clients.call("sns", region, "publish", TopicArn=target, Message=body)
                return True
            except SOURCE_ERRORS as exc:
                self._queue_urls.pop(target, None)
                poller.problem(f"Error occurred while sending to the OnFailure destination {target}: {error_text(exc)}")
                if attempt + 1 < DELIVERY_ATTEMPTS:
                    await poller.context.pause(ERROR_PAUSE)
        log.warning("dropped %d record(s) of %s: the OnFailure destination failed", len(records), shard_id)
        return False

    async def _queue_url(self, arn: str) -> str:
        url = self._queue_urls.get(arn)
        if url is None:
            _, _, _, region, account, name = arn.split(":", 5)
            answer = await self.poller.context.clients.call(
                "sqs", region, "get_queue_url", QueueName=name, QueueOwnerAWSAccountId=account
            )
            url = self._queue_urls[arn] = str(answer["QueueUrl"])
        return url

    def failure_record(
        self, shard_id: str, records: Sequence[StreamRecord], condition: str, invokes: int, last: BatchResult | None
    ) -> dict[str, Any]:
        """AWS's invocation record for a discarded stream batch."""
        poller = self.poller
        result = last.result if last is not None else None
        doc: dict[str, Any] = {
            "requestContext": {
                "requestId": result.request_id if result is not None else str(uuid.uuid4()),
                "functionArn": poller.function_arn,
                "condition": condition,
                "approximateInvokeCount": invokes,
            }
        }
        if result is not None:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": result.executed_version}
            if last is not None and last.outcome is BatchOutcome.FUNCTION_ERROR:
                response["functionError"] = result.function_error or "Unhandled"
            doc["responseContext"] = response
        doc["version"] = "1.0"
        doc["timestamp"] = iso_millis(time.time())
        doc[poller.source.batch_info] = {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence,
            "endSequenceNumber": records[-1].sequence,
            "approximateArrivalOfFirstRecord": poller.source.arrival_text(records[0].arrival),
            "approximateArrivalOfLastRecord": poller.source.arrival_text(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": poller.mapping.source_arn,
        }
        return doc
