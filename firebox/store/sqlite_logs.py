"""Log groups, streams and events in the SQLite store (a mixin of `SQLiteStore`).

Events live in `log_blocks`: one row per block of lines written together (an invocation's START..REPORT) or per
PutLogEvents message (`whole`). Reading splits a block into one event per line; an event's position is
(block id, line index), which orders events as they were written and is what pagination tokens carry.
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

DELETE_CHUNK = 2000
"""Blocks deleted per transaction by the sweep, so writers never wait long for it."""
DAY_MS = 86_400_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _lines(block_id: int, stream: str, timestamp: int, ingested: int, whole: int, text: str) -> list[StoredEvent]:
    """The events of one block, oldest first: its non-empty lines, or the whole text for a PutLogEvents message."""
    if whole:
        return [StoredEvent(stream, timestamp, text, ingested, block_id, 0)]
    return [
        StoredEvent(stream, timestamp, line, ingested, block_id, index)
        for index, line in enumerate(text.split("\n"))
        if line
    ]


def _group(row: tuple[str, int, int | None, int]) -> LogGroup:
    return LogGroup(row[0], row[1], row[2], row[3])


class LogGroupsAndStreams:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # writing

    def append_log_events(self, events: Sequence[LogEvent]) -> None:
        """Store function output: each event's message is a block of lines. Creates groups and streams as needed."""
        now = _now_ms()
        rows = []
        streams: dict[tuple[str, str], list[int]] = {}  # (group, stream) -> [bytes, first, last]
        for event in events:
            size = len(event.message.encode())
            rows.append((event.log_group, event.log_stream, event.timestamp, now, event.message))
            totals = streams.get((event.log_group, event.log_stream))
            if totals is None:
                streams[(event.log_group, event.log_stream)] = [size, event.timestamp, event.timestamp]
            else:
                totals[0] += size
                totals[1] = min(totals[1], event.timestamp)
                totals[2] = max(totals[2], event.timestamp)
        with self._write() as conn:
            # One statement for the whole batch, its rows passed as one JSON document: executemany would release
            # and retake the GIL for every row, and that hand-off, not SQLite, is what costs the event loop.
            conn.execute(
                "INSERT INTO log_blocks (log_group, log_stream, timestamp, ingested, text) SELECT value ->> 0,"
                " value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)",
                (json.dumps(rows, ensure_ascii=False),),
            )
            self._count(conn, now, ((g, s, t[0], t[1], t[2]) for (g, s), t in streams.items()), create=True)

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

    def _blocks(self, where: EventRange, from_id: int, backward: bool) -> Iterator[tuple[int, str, int, int, int, str]]:
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
            clauses.append("timestamp >= ?")
            params.append(where.start)
        if where.end is not None:
            clauses.append("timestamp < ?")
            params.append(where.end)
        query = (
            "SELECT id, log_stream, timestamp, COALESCE(ingested, timestamp), whole, text FROM log_blocks"
            f" WHERE {' AND '.join(clauses)} ORDER BY id {'DESC' if backward else 'ASC'}"
        )
        yield from self._conn().execute(query, params)

    def read_forward(self, where: EventRange, after: Position | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` events strictly after `after` (from the oldest when None), oldest first."""
        events: list[StoredEvent] = []
        if limit <= 0:
            return events
        for row in self._blocks(where, after[0] if after else 0, backward=False):
            for event in _lines(*row):
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
            for event in reversed(_lines(*row)):
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
            for event in _lines(*row):
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
                        " WHERE log_group = ? AND timestamp < ? LIMIT ?",
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
