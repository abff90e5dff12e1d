"""The stream pollers' pure parts: the checkpoint frontier, which shards may start, partial batch responses, record
age, lanes, and the record shapes built from what boto3 returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebox.eventsources.dynamodb_streams import attribute_map
from firebox.eventsources.stream_failures import iso_millis, iso_seconds
from firebox.eventsources.stream_lanes import expired_prefix, failure_index, lane_of
from firebox.eventsources.streams import Shard, StreamRecord, Tracker, ready_shards, starting_timestamp


def _record(number: int, arrival: float = 0.0, key: str = "k") -> StreamRecord:
    return StreamRecord(str(number), key, arrival, {"n": number}, 10)


def test_the_frontier_waits_for_every_earlier_record() -> None:
    tracker = Tracker("3")
    records = [_record(n) for n in (5, 7, 9, 11)]
    for record in records:
        tracker.add(record)
    assert not tracker.settle([records[1], records[3]]), "7 and 11 settled, 5 is still out"
    assert tracker.frontier == "3" and len(tracker) == 4
    assert tracker.settle([records[0]])
    assert tracker.frontier == "7" and len(tracker) == 2 and tracker.bytes == 20
    assert tracker.settle([records[2]])
    assert tracker.frontier == "11" and len(tracker) == 0 and tracker.bytes == 0


def test_children_start_only_once_their_parents_are_finished_or_gone() -> None:
    shards = [
        Shard("a", (), "100"),
        Shard("b", (), "200"),
        Shard("c", ("a", "b"), None),
        Shard("d", ("gone",), None),
        Shard("e", ("c",), None),
    ]

    def ids(found: list[Shard]) -> list[str]:
        return [shard.shard_id for shard in found]

    assert ids(ready_shards(shards, set(), set())) == ["a", "b", "d"]
    assert ids(ready_shards(shards, {"a"}, {"b", "d"})) == []
    assert ids(ready_shards(shards, {"a", "b"}, {"d"})) == ["c"]
    assert ids(ready_shards(shards, {"a", "b", "c", "d"}, set())) == ["e"]


def test_a_partial_batch_response_fails_from_its_lowest_record() -> None:
    records = [_record(n) for n in (10, 20, 30, 40)]
    assert failure_index(records, ["40", "20"]) == 1
    assert failure_index(records, ["10"]) == 0
    assert failure_index(records, ["30", "99"]) is None, "a record not in the batch fails the whole batch"


def test_only_the_head_of_a_batch_can_be_too_old() -> None:
    records = [_record(1, 100.0), _record(2, 150.0), _record(3, 200.0)]
    assert expired_prefix(records, -1, 10_000.0) == 0
    assert expired_prefix(records, 60, 215.0) == 2
    assert expired_prefix(records, 60, 1_000.0) == 3
    assert expired_prefix(records, 60, 160.0) == 0


def test_a_partition_key_always_goes_to_the_same_lane() -> None:
    assert {lane_of("key", 1) for _ in range(3)} == {0}
    lanes = {key: lane_of(key, 4) for key in (f"key{i}" for i in range(50))}
    assert all(0 <= lane < 4 for lane in lanes.values()) and len(set(lanes.values())) == 4
    assert all(lane_of(key, 4) == lane for key, lane in lanes.items())


def test_timestamps_as_aws_writes_them() -> None:
    moment = datetime(2019, 11, 14, 0, 38, 4, 835_000, tzinfo=UTC).timestamp()
    assert iso_millis(moment) == "2019-11-14T00:38:04.835Z"
    assert iso_seconds(moment) == "2019-11-14T00:38:04Z"
    assert starting_timestamp(moment) == moment
    assert starting_timestamp("2019-11-14T00:38:04.835Z") == moment


def test_dynamodb_attribute_values_come_back_as_dynamodb_json() -> None:
    item: dict[str, Any] = {
        "id": {"S": "a"},
        "n": {"N": "1.5"},
        "b": {"B": b"\x00\x01"},
        "bs": {"BS": [b"\x02"]},
        "m": {"M": {"inner": {"B": b"\x03"}, "flag": {"BOOL": True}}},
        "l": {"L": [{"NULL": True}, {"SS": ["x", "y"]}]},
    }
    assert attribute_map(item) == {
        "id": {"S": "a"},
        "n": {"N": "1.5"},
        "b": {"B": "AAE="},
        "bs": {"BS": ["Ag=="]},
        "m": {"M": {"inner": {"B": "Aw=="}, "flag": {"BOOL": True}}},
        "l": {"L": [{"NULL": True}, {"SS": ["x", "y"]}]},
    }
