"""The SQS poller: long-polls a standard or FIFO queue, invokes the function with batches in Lambda's SQS event shape,
and deletes what was processed.

As Lambda does:
- a few batches are polled at once (`START_WORKERS`), one more each `SCALE_UP_SECONDS` while receives come back
  full, up to the mapping's ScalingConfig.MaximumConcurrency (`MAX_WORKERS` without one); a worker whose long poll
  comes back empty retires while more than the starting number run (Lambda starts with five and adds up to five a
  second; on one machine, where the queue's server shares the cores, fewer at first measured better:
  docs/performance.md);
- a batch is gathered until BatchSize messages, the batching window, or 6 MB of payload, whichever comes first
  (a zero window invokes with each receive's messages);
- FilterCriteria: messages no filter keeps are deleted without an invocation;
- a message is deleted only after an invocation that processed it succeeded: on a function error nothing is
  deleted and the batch returns to the queue when its visibility timeout ends (the queue's redrive policy counts
  the receives); with ReportBatchItemFailures only the reported messages stay (on a FIFO queue, with every later
  message of their message group in the batch, so a group's order holds);
- a batch that could not be invoked at all (throttled, the function missing or not active) is made visible again
  at once and the worker backs off.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from firebox.aws_endpoints import ServiceNotConfigured
from firebox.eventsources.poller import OK, BatchOutcome, PollerContext, now_ms
from firebox.expressions.filters import RecordFilter
from firebox.models.mappings import EventSourceMapping

log = logging.getLogger("firebox.eventsources.sqs")

START_WORKERS = 2
SCALE_UP_SECONDS = 1.0
MAX_WORKERS = 64
"""Concurrent batches per mapping without a MaximumConcurrency (Lambda goes to 1,250; one machine does not)."""
LONG_POLL_SECONDS = 20
RECEIVE_LIMIT = 10
PAYLOAD_LIMIT = 6_291_456 - 65_536
"""What a batch's messages may add up to: the synchronous payload limit, less room for the event's own members."""
ERROR_PAUSE = 5.0
THROTTLE_PAUSE = 1.0


class SqsPoller:
    def __init__(self, mapping: EventSourceMapping, context: PollerContext) -> None:
        self.mapping = mapping
        self.context = context
        _, _, _, self.region, self.account, self.queue_name = mapping.source_arn.split(":", 5)
        self.fifo = self.queue_name.endswith(".fifo")
        self.filter = RecordFilter.from_criteria(mapping.params.get("FilterCriteria"))
        scaling = mapping.params.get("ScalingConfig") or {}
        self.max_workers = int(scaling.get("MaximumConcurrency") or MAX_WORKERS)
        self.start_workers = min(START_WORKERS, self.max_workers)
        self.queue_url: str | None = None
        self.workers: set[asyncio.Task[None]] = set()
        self.scaled_at = 0.0

    async def _call(self, operation: str, **params: Any) -> Any:
        return await self.context.clients.call("sqs", self.region, operation, **params)

    async def run(self) -> None:
        try:
            for _ in range(self.start_workers):
                self._add_worker()
            await asyncio.Event().wait()  # the workers do the work; this waits to be cancelled
        finally:
            for worker in self.workers:
                worker.cancel()
            await asyncio.gather(*self.workers, return_exceptions=True)

    def _add_worker(self) -> None:
        task = asyncio.get_running_loop().create_task(self._work(), name=f"sqs worker {self.queue_name}")
        self.workers.add(task)
        task.add_done_callback(self.workers.discard)

    async def _url(self) -> str:
        if self.queue_url is None:
            answer = await self._call("get_queue_url", QueueName=self.queue_name, QueueOwnerAWSAccountId=self.account)
            self.queue_url = str(answer["QueueUrl"])
        return self.queue_url

    async def _work(self) -> None:
        while True:
            try:
                url = await self._url()
                messages, full = await self._gather(url)
            except (BotoCoreError, ClientError, ServiceNotConfigured) as exc:
                self.context.report(self.mapping, f"PROBLEM: Error occurred while ReceiveMessage: {_text(exc)}")
                self.queue_url = None
                await self.context.pause(ERROR_PAUSE)
                continue
            if not messages:
                if len(self.workers) > self.start_workers:
                    return  # the backlog is gone: one worker fewer
                continue
            if full and len(self.workers) < self.max_workers and time.monotonic() - self.scaled_at >= SCALE_UP_SECONDS:
                self.scaled_at = time.monotonic()
                self._add_worker()
            await self._process(url, messages)

    async def _gather(self, url: str) -> tuple[list[dict[str, Any]], bool]:
        """One batch: messages received until the batch size, the batching window or the payload limit; and
        whether the queue looked to have more (the last receive came back full)."""
        wanted = self.mapping.batch_size
        window = self.mapping.batching_window
        messages: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        full = False
        while len(messages) < wanted and size < PAYLOAD_LIMIT:
            if deadline is None:
                wait = LONG_POLL_SECONDS
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = max(0, min(LONG_POLL_SECONDS, int(left)))
            answer = await self._receive(url, min(RECEIVE_LIMIT, wanted - len(messages)), wait)
            received = answer.get("Messages") or []
            full = len(received) == RECEIVE_LIMIT
            messages.extend(received)
            size += sum(len(m.get("Body", "")) for m in received)
            if not received and deadline is None:
                break  # an empty long poll: nothing to wait for
            if deadline is None:
                deadline = time.monotonic() + window
            if window <= 0:
                break
        return messages, full

    async def _receive(self, url: str, count: int, wait: int) -> Any:
        """One ReceiveMessage. If the poller is stopped meanwhile (the mapping disabled, updated or deleted), the
        long poll still runs to its end on its thread: what it brings back is made visible again at once."""
        call = asyncio.ensure_future(
            self._call(
                "receive_message",
                QueueUrl=url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(lambda done: self._abandoned(url, done))
            raise

    def _abandoned(self, url: str, done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        messages = done.result().get("Messages") or []
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)
            ]
            self.context.clients.call_soon(
                "sqs", self.region, "change_message_visibility_batch", QueueUrl=url, Entries=entries
            )

    async def _process(self, url: str, messages: list[dict[str, Any]]) -> None:
        mapping, context = self.mapping, self.context
        context.count(mapping, "PolledEventCount", len(messages))
        sent = min(int(m.get("Attributes", {}).get("SentTimestamp", 0)) for m in messages)
        if sent:
            context.count(mapping, "RecordAge", max(0, now_ms() - sent))
        records = [self._record(message) for message in messages]
        kept = [r for r in records if self.filter.keeps(r, "sqs")] if not self.filter.empty else records
        if len(kept) < len(records):
            keep_ids = {r["messageId"] for r in kept}
            dropped = [r for r in records if r["messageId"] not in keep_ids]
            context.count(mapping, "FilteredOutEventCount", len(dropped))
            await self._delete(url, dropped)
        if not kept:
            return
        result = await context.invoke(mapping, {"Records": kept})
        if result.outcome is BatchOutcome.NOT_INVOKED:
            context.report(mapping, f"PROBLEM: Function call failed. {result.error}")
            await self._release(url, kept)
            await context.pause(THROTTLE_PAUSE)
            return
        context.count(mapping, "InvokedEventCount", len(kept))
        if result.outcome is BatchOutcome.FUNCTION_ERROR:
            context.count(mapping, "FailedInvokeEventCount", len(kept))
            context.report(mapping, "PROBLEM: Function call failed")
            return  # nothing deleted: the batch comes back after its visibility timeout
        failed = self._failed(kept, result.failed_items)
        if failed:
            context.count(mapping, "FailedInvokeEventCount", len(failed))
        context.report(mapping, OK)
        await self._delete(url, [r for r in kept if r["messageId"] not in failed])

    def _failed(self, records: Sequence[dict[str, Any]], reported: Sequence[str]) -> set[str]:
        """The messages that stay in the queue: those reported, and on FIFO queues every later one of their
        message groups in this batch."""
        failed = set(reported)
        if self.fifo and failed:
            stopped: set[str] = set()
            for record in records:
                group = record["attributes"].get("MessageGroupId", "")
                if group in stopped:
                    failed.add(record["messageId"])
                elif record["messageId"] in failed:
                    stopped.add(group)
        return failed

    async def _delete(self, url: str, records: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(records), RECEIVE_LIMIT):
            chunk = records[start : start + RECEIVE_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            try:
                answer = await self._call("delete_message_batch", QueueUrl=url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                log.warning("could not delete %d message(s) from %s: %s", len(chunk), url, _text(exc))
                continue
            deleted = len(answer.get("Successful") or [])
            self.context.count(self.mapping, "DeletedEventCount", deleted)

    async def _release(self, url: str, records: Sequence[dict[str, Any]]) -> None:
        """Make messages that were not processed visible again now, rather than after their visibility timeout."""
        for start in range(0, len(records), RECEIVE_LIMIT):
            chunk = records[start : start + RECEIVE_LIMIT]
            entries = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0} for i, r in enumerate(chunk)
            ]
            try:
                await self._call("change_message_visibility_batch", QueueUrl=url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                log.info("could not release %d message(s) of %s: %s", len(chunk), url, _text(exc))

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One message in Lambda's SQS event shape."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        record["eventSource"] = "aws:sqs"
        record["eventSourceARN"] = self.mapping.source_arn
        record["awsRegion"] = self.region
        return record


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda writes it: camelCase members, binary values in base64."""
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues") or []]
    shaped["dataType"] = value.get("DataType", "String")
    return shaped


def _text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"SQS Error Code: {error.get('Code')}. SQS Error Message: {error.get('Message')}"
    return str(exc)
