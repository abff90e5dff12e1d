"""Log groups, streams and events in the SQLite store (a mixin of `SQLiteStore`).

Events live in `log_blocks`: one row per stream per written batch of function output (the blocks of lines of its
invocations, START..REPORT, with each block's timestamp in `stamps`), or per PutLogEvents message (`whole`).
Reading splits a row into one event per line; an event's position is (row id, line index), which orders events
as they were written and is what pagination tokens carry.
`log_groups` and `log_streams` keep each one's counters, updated in the transaction that changes its blocks.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager

from firebox.models.logs import EventRange, LogEvent, LogGroup, LogStream, Position, StoredEvent

CHUNK_SPAN_MS = 1000
"""Blocks of one stream in one batch share a row while they are less than this apart."""
DELETE_CHUNK = 2000
"""Blocks deleted per transaction by the sweep, so writers never wait long for it."""
DAY_MS = 86_400_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _lines(
    block_id: int, stream: str, timestamp: int, ingested: int, whole: int, text: str, stamps: str | None
) -> list[StoredEvent]:
    """The events of one row, oldest first: its non-empty lines, or the whole text for a PutLogEvents message.

    A chunk's lines take their timestamps from `stamps`, runs of [line segments, timestamp] in order (a segment
    is what `text.split("\n")` yields, so an event's index is the same with or without runs)."""
    if whole:
        return [StoredEvent(stream, timestamp, text, ingested, block_id, 0)]
    segments = text.split("\n")
    if stamps is None:
        return [StoredEvent(stream, timestamp, line, ingested, block_id, i) for i, line in enumerate(segments) if line]
    events = []
    index = 0
    for count, stamp in json.loads(stamps):
        for i in range(index, min(index + count, len(segments))):
            if segments[i]:
                events.append(StoredEvent(stream, stamp, segments[i], ingested, block_id, i))
        index += count
    return events


def _in_range(events: list[StoredEvent], where: EventRange) -> list[StoredEvent]:
    """The events of a chunk inside the range's times (a chunk can straddle its edges)."""
    if where.start is None and where.end is None:
        return events
    start = where.start if where.start is not None else -(2**62)
    end = where.end if where.end is not None else 2**62
    return [event for event in events if start <= event.timestamp < end]


def _chunks(events: Sequence[LogEvent], now: int) -> list[tuple[str, str, int, int, int, str, str | None]]:
    """The rows for a batch of blocks, (group, stream, first, last, ingested, text, stamps): a stream's blocks
    share a row while they are less than `CHUNK_SPAN_MS` apart (so retention, which deletes whole rows, stays
    that exact). Blocks are newline-terminated inside a row; a row of one block keeps its text as it came."""
    open_chunks: dict[tuple[str, str], list[LogEvent]] = {}
    chunks: list[list[LogEvent]] = []
    for event in events:
        key = (event.log_group, event.log_stream)
        chunk = open_chunks.get(key)
        if chunk is None or abs(event.timestamp - chunk[0].timestamp) >= CHUNK_SPAN_MS:
            chunk = open_chunks[key] = []
            chunks.append(chunk)
        chunk.append(event)
    rows: list[tuple[str, str, int, int, int, str, str | None]] = []
    for blocks in chunks:
        head = blocks[0]
        if len(blocks) == 1:
            rows.append((head.log_group, head.log_stream, head.timestamp, head.timestamp, now, head.message, None))
            continue
        texts = [b.message if b.message[-1:] == "\n" else b.message + "\n" for b in blocks]
        stamps = [b.timestamp for b in blocks]
        first, last = min(stamps), max(stamps)
        runs: str | None = None
        if first != last:
            runs = json.dumps([[t.count("\n"), stamp] for t, stamp in zip(texts, stamps, strict=True)])
        rows.append((head.log_group, head.log_stream, first, last, now, "".join(texts), runs))
    return rows


def _group(row: tuple[str, int, int | None, int]) -> LogGroup:
    return LogGroup(row[0], row[1], row[2], row[3])


class LogGroupsAndStreams:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # writing

    def append_log_events(self, events: Sequence[LogEvent]) -> None:
        """Store function output: each event's message is a block of lines (newline-terminated when stored). The
        blocks of one stream in a batch become one row (a chunk). Creates groups and streams as needed."""
        now = _now_ms()
        rows = _chunks(events, now)
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO log_blocks (log_group, log_stream, timestamp, last_timestamp, ingested, text, stamps)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            counters = ((g, st, len(text.encode()), first, last) for g, st, first, last, _, text, _ in rows)
            self._count(conn, now, counters, create=True)

    @staticmethod
    def _count(
        conn: sqlite3.Connection, now: int, streams: Iterable[tuple[str, str, int, int, int]], create: bool
    ) -> None:
        """Add (group, stream, bytes, first ts, last ts) to the streams' and groups' counters."""
        per_group: dict[str, int] = defaultdict(int)
        stream_rows = []
        for group, stream, size, first, last in streams:
            per_group[group] += size
            stream_rows.append((group, stream, now, first, last, now, size))
        if create:
            conn.executemany(
                "INSERT INTO log_groups (name, created, stored_bytes) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes",
                [(group, now, size) for group, size in per_group.items()],
            )
        else:
            conn.executemany(
                "UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE name = ?",
                [(size, group) for group, size in per_group.items()],
            )
        conn.executemany(
            "INSERT INTO log_streams (log_group, name, created, first_event, last_event, last_ingestion,"
            " stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (log_group, name) DO UPDATE SET"
            " first_event = MIN(COALESCE(first_event, excluded.first_event), excluded.first_event),"
            " last_event = MAX(COALESCE(last_event, excluded.last_event), excluded.last_event),"
            " last_ingestion = excluded.last_ingestion, stored_bytes = stored_bytes + excluded.stored_bytes",
            stream_rows,
        )

    def put_log_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> str:
        """PutLogEvents: store each (timestamp, message) whole. Returns 'ok', 'no group' or 'no stream'."""
        now = _now_ms()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM log_groups WHERE name = ?", (group,)).fetchone() is None:
                return "no group"
            found = conn.execute("SELECT 1 FROM log_streams WHERE log_group = ? AND name = ?", (group, stream))
            if found.fetchone() is None:
                return "no stream"
            if not events:
                return "ok"
            conn.executemany(
                "INSERT INTO log_blocks (log_group, log_stream, timestamp, ingested, whole, text)"
                " VALUES (?, ?, ?, ?, 1, ?)",
                [(group, stream, timestamp, now, message) for timestamp, message in events],
            )
            size = sum(len(message.encode()) for _, message in events)
            first = min(timestamp for timestamp, _ in events)
            last = max(timestamp for timestamp, _ in events)
            self._count(conn, now, [(group, stream, size, first, last)], create=False)
        return "ok"

    # groups and streams

    def create_log_group(self, name: str) -> bool:
        """False if it exists already."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO log_groups (name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, _now_ms())
            )
            return cursor.rowcount == 1

    def log_group(self, name: str) -> LogGroup | None:
        row = (
            self._conn()
            .execute("SELECT name, created, retention_days, stored_bytes FROM log_groups WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else _group(row)

    def log_groups(self, prefix: str, after: str | None, limit: int) -> list[LogGroup]:
        """Groups whose name starts with `prefix`, by name, after the name `after` (pagination)."""
        rows = self._conn().execute(
            "SELECT name, created, retention_days, stored_bytes FROM log_groups"
            " WHERE substr(name, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?",
            (len(prefix), prefix, after or "", limit),
        )
        return [_group(row) for row in rows]

    def set_log_retention(self, name: str, days: int | None) -> bool:
        """False if there is no such group."""
        with self._write() as conn:
            cursor = conn.execute("UPDATE log_groups SET retention_days = ? WHERE name = ?", (days, name))
            return cursor.rowcount == 1

    def delete_log_group(self, name: str) -> bool:
        """Delete a group, its streams and its events; False if there is no such group."""
        with self._write() as conn:
            if conn.execute("DELETE FROM log_groups WHERE name = ?", (name,)).rowcount != 1:
                return False
            conn.execute("DELETE FROM log_streams WHERE log_group = ?", (name,))
            conn.execute("DELETE FROM log_blocks WHERE log_group = ?", (name,))
            return True

    def create_log_stream(self, group: str, name: str) -> str:
        """'ok', 'no group' or 'exists'."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM log_groups WHERE name = ?", (group,)).fetchone() is None:
                return "no group"
            cursor = conn.execute(
                "INSERT INTO log_streams (log_group, name, created) VALUES (?, ?, ?)"
                " ON CONFLICT (log_group, name) DO NOTHING",
                (group, name, _now_ms()),
            )
            return "ok" if cursor.rowcount == 1 else "exists"

    def log_streams(
        self, group: str, prefix: str, by_last_event: bool, descending: bool, offset: int, limit: int
    ) -> list[LogStream]:
        """A page of a group's streams, ordered by name or by last event time."""
        order = "COALESCE(last_event, 0)" if by_last_event else "name"
        direction = "DESC" if descending else "ASC"
        rows = self._conn().execute(
            "SELECT log_group, name, created, first_event, last_event, last_ingestion, stored_bytes"
            f" FROM log_streams WHERE log_group = ? AND substr(name, 1, ?) = ?"
            f" ORDER BY {order} {direction}, name {direction} LIMIT ? OFFSET ?",
            (group, len(prefix), prefix, limit, offset),
        )
        return [LogStream(*row) for row in rows]

    def log_stream_exists(self, group: str, name: str) -> bool:
        query = "SELECT 1 FROM log_streams WHERE log_group = ? AND name = ?"
        return self._conn().execute(query, (group, name)).fetchone() is not None

    # reading

    def _blocks(
        self, where: EventRange, from_id: int, backward: bool
    ) -> Iterator[tuple[int, str, int, int, int, str, str | None]]:
        """The blocks in range from `from_id` (inclusive) on, in id order or reversed; lazily, as SQLite reads."""
        clauses = ["log_group = ?", "id <= ?" if backward else "id >= ?"]
        params: list[object] = [where.log_group, from_id]
        if where.streams is not None:
            clauses.append(f"log_stream IN ({', '.join('?' * len(where.streams))})")
            params += where.streams
        if where.stream_prefix:
            clauses.append("substr(log_stream, 1, ?) = ?")
            params += [len(where.stream_prefix), where.stream_prefix]
        if where.start is not None:
            clauses.append("COALESCE(last_timestamp, timestamp) >= ?")
            params.append(where.start)
        if where.end is not None:
            clauses.append("timestamp < ?")
            params.append(where.end)
        query = (
            "SELECT id, log_stream, timestamp, COALESCE(ingested, timestamp), whole, text, stamps FROM log_blocks"
            f" WHERE {' AND '.join(clauses)} ORDER BY id {'DESC' if backward else 'ASC'}"
        )
        yield from self._conn().execute(query, params)

    def read_forward(self, where: EventRange, after: Position | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` events strictly after `after` (from the oldest when None), oldest first."""
        events: list[StoredEvent] = []
        if limit <= 0:
            return events
        for row in self._blocks(where, after[0] if after else 0, backward=False):
            for event in _in_range(_lines(*row), where):
                if after is None or event.position > after:
                    events.append(event)
                    if len(events) >= limit:
                        return events
        return events

    def read_backward(self, where: EventRange, before: Position | None, limit: int) -> list[StoredEvent]:
        """The last `limit` events strictly before `before` (the newest when None), oldest first."""
        events: list[StoredEvent] = []
        if limit <= 0:
            return events
        for row in self._blocks(where, before[0] if before else 2**62, backward=True):
            for event in reversed(_in_range(_lines(*row), where)):
                if before is None or event.position < before:
                    events.append(event)
                    if len(events) >= limit:
                        events.reverse()
                        return events
        events.reverse()
        return events

    def filter_events(
        self,
        where: EventRange,
        after: Position | None,
        matches: Callable[[str], bool],
        limit: int,
        scan_blocks: int,
    ) -> tuple[list[StoredEvent], Position | None]:
        """Matching events after `after`, oldest first, and where to resume (None: nothing more to read).

        Reads at most `scan_blocks` blocks, so one call stays short however rare the matches are; when it stops
        there, the resume position is the last event it looked at.
        """
        events: list[StoredEvent] = []
        scanned = 0
        last: Position | None = None
        for row in self._blocks(where, after[0] if after else 0, backward=False):
            scanned += 1
            for event in _in_range(_lines(*row), where):
                if after is not None and event.position <= after:
                    continue
                last = event.position
                if matches(event.message):
                    events.append(event)
                    if len(events) >= limit:
                        return events, last
            if scanned >= scan_blocks:
                return events, last if last is not None else (row[0], 2**31)
        return events, None

    def log_events(self, log_group: str, log_stream: str | None, limit: int) -> list[LogEvent]:
        """The last `limit` events of a group or stream, oldest first (Firebox's own logs endpoint)."""
        where = EventRange(log_group, streams=None if log_stream is None else [log_stream])
        return [
            LogEvent(log_group, event.log_stream, event.timestamp, event.message)
            for event in self.read_backward(where, None, limit)
        ]

    # retention and the disk bound

    def sweep_logs(self, max_bytes: int) -> int:
        """Delete blocks past their group's retention, then the oldest until at most `max_bytes` are kept.

        Works in transactions of `DELETE_CHUNK` blocks. Returns how many blocks it deleted.
        """
        now = _now_ms()
        deleted = 0
        retained = (
            self._conn()
            .execute("SELECT name, retention_days FROM log_groups WHERE retention_days IS NOT NULL")
            .fetchall()
        )
        for group, days in retained:
            cutoff = now - days * DAY_MS
            while True:
                with self._write() as conn:
                    rows = conn.execute(
                        "SELECT id, log_group, log_stream, length(CAST(text AS BLOB)) FROM log_blocks"
                        " WHERE log_group = ?1 AND timestamp < ?2 AND COALESCE(last_timestamp, timestamp) < ?2"
                        " LIMIT ?3",
                        (group, cutoff, DELETE_CHUNK),
                    ).fetchall()
                    self._delete_blocks(conn, rows)
                deleted += len(rows)
                if len(rows) < DELETE_CHUNK:
                    break
        while True:
            with self._write() as conn:
                total = conn.execute("SELECT COALESCE(SUM(stored_bytes), 0) FROM log_groups").fetchone()[0]
                excess = total - max_bytes
                if excess <= 0:
                    break
                rows = []
                for row in conn.execute(
                    "SELECT id, log_group, log_stream, length(CAST(text AS BLOB)) FROM log_blocks ORDER BY id LIMIT ?",
                    (DELETE_CHUNK,),
                ):
                    rows.append(row)
                    excess -= row[3]
                    if excess <= 0:
                        break
                if not rows:
                    break
                self._delete_blocks(conn, rows)
            deleted += len(rows)
        return deleted

    @staticmethod
    def _delete_blocks(conn: sqlite3.Connection, rows: Sequence[tuple[int, str, str, int]]) -> None:
        """Delete (id, group, stream, bytes) blocks and take them off the counters."""
        if not rows:
            return
        conn.executemany("DELETE FROM log_blocks WHERE id = ?", [(row[0],) for row in rows])
        per_stream: dict[tuple[str, str], int] = defaultdict(int)
        per_group: dict[str, int] = defaultdict(int)
        for _, group, stream, size in rows:
            per_stream[(group, stream)] += size
            per_group[group] += size
        conn.executemany(
            "UPDATE log_groups SET stored_bytes = MAX(0, stored_bytes - ?) WHERE name = ?",
            [(size, group) for group, size in per_group.items()],
        )
        conn.executemany(
            "UPDATE log_streams SET stored_bytes = MAX(0, stored_bytes - ?1), first_event = (SELECT timestamp"
            " FROM log_blocks WHERE log_group = ?2 AND log_stream = ?3 ORDER BY id LIMIT 1)"
            " WHERE log_group = ?2 AND name = ?3",
            [(size, group, stream) for (group, stream), size in per_stream.items()],
        )
