"""DynamoDB Streams as a stream source: DescribeStream, GetShardIterator and GetRecords through the DynamoDB Streams
API at its configured endpoint, and the records in Lambda's DynamoDB event shape. The ordering, batching, retries
and checkpoints are `streams.py`'s and `stream_lanes.py`'s.

A record as the function sees it (the images present as the stream's StreamViewType has them; attribute values in
DynamoDB's JSON, binary ones in base64):

    {"eventID": ..., "eventName": "INSERT" | "MODIFY" | "REMOVE", "eventVersion": "1.1",
     "eventSource": "aws:dynamodb", "awsRegion": ...,
     "dynamodb": {"ApproximateCreationDateTime": <epoch seconds>, "Keys": {...}, "NewImage": {...},
                  "OldImage": {...}, "SequenceNumber": ..., "SizeBytes": ..., "StreamViewType": ...},
     "eventSourceARN": <the stream's ARN>}

DynamoDB Streams has no AT_TIMESTAMP iterator: a shard resumed from a LATEST start reads from TRIM_HORIZON and the
reader skips what is older than the start.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from firebox.eventsources.poller import PollerContext
from firebox.eventsources.stream_failures import iso_seconds
from firebox.eventsources.streams import Page, Position, ServiceSource, Shard, StreamPoller, StreamRecord
from firebox.models.mappings import EventSourceMapping

READ_LIMIT = 1_000
"""GetRecords' largest Limit."""
_STREAM_MEMBERS = ("Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType")


class DynamoDbStreamSource(ServiceSource):
    kind = "dynamodb"
    batch_info = "DDBStreamBatchInfo"
    poll_interval = 0.25
    """Lambda reads each shard four times a second."""
    seeks_timestamps = False

    service = "dynamodbstreams"
    read_limit = READ_LIMIT

    async def shards(self) -> list[Shard]:
        shards: list[Shard] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"StreamArn": self.arn}
            if after:
                params["ExclusiveStartShardId"] = after
            description = (await self._call("describe_stream", **params))["StreamDescription"]
            for shard in description.get("Shards") or []:
                parent = shard.get("ParentShardId")
                ending = (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
                shards.append(Shard(shard["ShardId"], (parent,) if parent else (), ending))
            after = description.get("LastEvaluatedShardId")
            if not after:
                return shards

    async def iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id, "ShardIteratorType": position.kind}
        if position.kind == "AFTER_SEQUENCE_NUMBER":
            params["SequenceNumber"] = position.sequence
        answer = await self._call("get_shard_iterator", **params)
        return str(answer["ShardIterator"])

    async def read(self, shard_id: str, iterator: str) -> Page:
        answer = await self._call("get_records", ShardIterator=iterator, Limit=self.limit)
        records = [self.record(raw) for raw in answer.get("Records") or []]
        return Page(records, answer.get("NextShardIterator"))

    def record(self, raw: dict[str, Any]) -> StreamRecord:
        """A GetRecords record in Lambda's event shape."""
        stream = raw.get("dynamodb") or {}
        created = stream.get("ApproximateCreationDateTime")
        arrival = created.timestamp() if isinstance(created, datetime) else float(created or 0)
        shaped: dict[str, Any] = {"ApproximateCreationDateTime": int(arrival)}
        for member in _STREAM_MEMBERS:
            if member in stream:
                value = stream[member]
                shaped[member] = attribute_map(value) if member in ("Keys", "NewImage", "OldImage") else value
        event: dict[str, Any] = {
            "eventID": raw.get("eventID", ""),
            "eventName": raw.get("eventName", ""),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": raw.get("awsRegion") or self.region,
            "dynamodb": shaped,
            "eventSourceARN": self.arn,
        }
        if raw.get("userIdentity"):
            event["userIdentity"] = dict(raw["userIdentity"])
        sequence = str(stream.get("SequenceNumber", "0"))
        key = orjson.dumps(shaped.get("Keys", {}), option=orjson.OPT_SORT_KEYS).decode()
        return StreamRecord(sequence, key, arrival, event, len(orjson.dumps(event)))

    def arrival_text(self, seconds: float) -> str:
        return iso_seconds(seconds)


def attribute_map(item: dict[str, Any]) -> dict[str, Any]:
    return {name: attribute(value) for name, value in item.items()}


def attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as boto3 decoded it, back in DynamoDB's JSON (binary values in base64)."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(v).decode() for v in inner]}
    if kind == "M":
        return {"M": attribute_map(inner)}
    if kind == "L":
        return {"L": [attribute(v) for v in inner]}
    return {kind: inner}


def dynamodb_poller(mapping: EventSourceMapping, context: PollerContext) -> StreamPoller:
    return StreamPoller(mapping, context, DynamoDbStreamSource(mapping, context))
