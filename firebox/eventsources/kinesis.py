"""Kinesis Data Streams as a stream source: ListShards, GetShardIterator and GetRecords through the Kinesis API at its
configured endpoint, and the records in Lambda's Kinesis event shape. The ordering, batching, retries and
checkpoints are `streams.py`'s and `stream_lanes.py`'s.

A record as the function sees it:

    {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": ..., "sequenceNumber": ..., "data": <base64>,
                 "approximateArrivalTimestamp": <epoch seconds, ms precision>},
     "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-...:<sequence number>",
     "eventName": "aws:kinesis:record", "invokeIdentityArn": <the function's role>, "awsRegion": ...,
     "eventSourceARN": <the stream's ARN>}
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from firebox.eventsources.poller import PollerContext
from firebox.eventsources.stream_failures import iso_millis
from firebox.eventsources.streams import Page, Position, ServiceSource, Shard, StreamPoller, StreamRecord
from firebox.models.mappings import EventSourceMapping

READ_LIMIT = 10_000
"""GetRecords' largest Limit."""


class KinesisSource(ServiceSource):
    kind = "kinesis"
    batch_info = "KinesisBatchInfo"
    poll_interval = 1.0
    """Lambda reads each shard about once a second."""
    seeks_timestamps = True

    service = "kinesis"
    read_limit = READ_LIMIT

    async def shards(self) -> list[Shard]:
        shards: list[Shard] = []
        token: str | None = None
        while True:
            if token:
                answer = await self._call("list_shards", NextToken=token)
            else:
                answer = await self._call("list_shards", StreamARN=self.arn)
            for shard in answer.get("Shards") or []:
                parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
                ending = (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
                shards.append(Shard(shard["ShardId"], parents, ending))
            token = answer.get("NextToken")
            if not token:
                return shards

    async def iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {"StreamARN": self.arn, "ShardId": shard_id, "ShardIteratorType": position.kind}
        if position.kind == "AFTER_SEQUENCE_NUMBER":
            params["StartingSequenceNumber"] = position.sequence
        elif position.kind == "AT_TIMESTAMP":
            params["Timestamp"] = datetime.fromtimestamp(position.timestamp or 0.0, UTC)
        answer = await self._call("get_shard_iterator", **params)
        return str(answer["ShardIterator"])

    async def read(self, shard_id: str, iterator: str) -> Page:
        answer = await self._call("get_records", StreamARN=self.arn, ShardIterator=iterator, Limit=self.limit)
        records = [self.record(shard_id, raw) for raw in answer.get("Records") or []]
        return Page(records, answer.get("NextShardIterator"), answer.get("MillisBehindLatest"))

    def record(self, shard_id: str, raw: dict[str, Any]) -> StreamRecord:
        """A GetRecords record in Lambda's event shape."""
        arrival = raw["ApproximateArrivalTimestamp"]
        seconds = round(arrival.timestamp(), 3) if isinstance(arrival, datetime) else float(arrival)
        sequence = str(raw["SequenceNumber"])
        event = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": sequence,
                "data": base64.b64encode(raw.get("Data") or b"").decode(),
                "approximateArrivalTimestamp": seconds,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role,
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        }
        return StreamRecord(sequence, str(raw["PartitionKey"]), seconds, event, len(orjson.dumps(event)))

    def arrival_text(self, seconds: float) -> str:
        return iso_millis(seconds)


def kinesis_poller(mapping: EventSourceMapping, context: PollerContext) -> StreamPoller:
    return StreamPoller(mapping, context, KinesisSource(mapping, context))
