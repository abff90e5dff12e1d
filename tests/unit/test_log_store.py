"""The log store on a real SQLite file: migration backfill, counters, positions, retention and the size bound."""

from __future__ import annotations

import sqlite3
import time
from importlib import resources
from pathlib import Path

from firebox.models.logs import EventRange, LogEvent
from firebox.store.sqlite import SQLiteStore

DAY_MS = 86_400_000


def _database_before_log_groups(path: Path) -> None:
    """A store file as migrations 0001..0007 left it, with two function log blocks."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
    for entry in sorted(resources.files("firebox.store.migrations").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql") and int(entry.name[:4]) <= 7:
            conn.executescript(entry.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, '')", (int(entry.name[:4]), entry.name))
    conn.executemany(
        "INSERT INTO log_blocks (log_group, log_stream, timestamp, text) VALUES (?, ?, ?, ?)",
        [("/aws/lambda/f", "s1", 1000, "START\ncafé\nEND\n"), ("/aws/lambda/f", "s2", 2000, "A\n")],
    )
    conn.close()


def test_migration_backfills_groups_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "firebox.db"
    _database_before_log_groups(path)
    store = SQLiteStore(path)
    group = store.log_group("/aws/lambda/f")
    assert group is not None
    assert (group.created, group.retention_days, group.stored_bytes) == (
        1000,
        None,
        len("START\ncafé\nEND\n".encode()) + 2,
    )
    streams = store.log_streams("/aws/lambda/f", "", False, False, 0, 10)
    assert [(s.name, s.first_event, s.last_event, s.stored_bytes) for s in streams] == [
        ("s1", 1000, 1000, len("START\ncafé\nEND\n".encode())),
        ("s2", 2000, 2000, 2),
    ]
    events = store.read_forward(EventRange("/aws/lambda/f"), None, 100)
    assert [(e.log_stream, e.message, e.ingestion_time) for e in events] == [
        ("s1", "START", 1000),
        ("s1", "café", 1000),
        ("s1", "END", 1000),
        ("s2", "A", 2000),
    ]
    store.close()


def test_blocks_split_into_lines_with_ordered_positions(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "firebox.db")
    store.append_log_events([LogEvent("/g", "s", 5, "one\n\ntwo\n"), LogEvent("/g", "s", 6, "three\n")])
    where = EventRange("/g", streams=["s"])
    events = store.read_forward(where, None, 10)
    assert [e.message for e in events] == ["one", "two", "three"]
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert [e.message for e in store.read_forward(where, events[0].position, 10)] == ["two", "three"]
    assert [e.message for e in store.read_backward(where, events[2].position, 1)] == ["two"]
    assert [e.message for e in store.read_backward(where, None, 2)] == ["two", "three"]
    found, resume = store.filter_events(EventRange("/g"), None, lambda m: "t" in m, 1, 100)
    assert [e.message for e in found] == ["two"] and resume == found[0].position
    found, resume = store.filter_events(EventRange("/g"), resume, lambda m: "t" in m, 10, 100)
    assert [e.message for e in found] == ["three"] and resume is None
    stream = store.log_streams("/g", "", False, False, 0, 10)[0]
    assert (stream.first_event, stream.last_event, stream.stored_bytes) == (5, 6, len("one\n\ntwo\n") + 6)
    store.close()


def test_sweep_applies_retention_then_the_size_bound(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "firebox.db")
    now = int(time.time() * 1000)
    store.append_log_events(
        [
            LogEvent("/old", "s", now - 3 * DAY_MS, "x" * 100),
            LogEvent("/old", "s", now, "y" * 100),
            LogEvent("/other", "s", now - 3 * DAY_MS, "z" * 100),
        ]
    )
    assert store.sweep_logs(10_000) == 0
    store.set_log_retention("/old", 1)
    assert store.sweep_logs(10_000) == 1
    old = store.log_group("/old")
    assert old is not None and old.stored_bytes == 100
    assert [e.message[0] for e in store.read_forward(EventRange("/old"), None, 10)] == ["y"]
    assert store.log_streams("/old", "", False, False, 0, 1)[0].first_event == now
    assert store.sweep_logs(150) == 1, "the oldest block left (in /old) goes first"
    assert store.read_forward(EventRange("/old"), None, 10) == []
    assert [e.message[0] for e in store.read_forward(EventRange("/other"), None, 10)] == ["z"]
    store.close()


def test_a_streams_blocks_in_one_batch_share_a_row_and_keep_their_timestamps(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "firebox.db")
    store.append_log_events(
        [
            LogEvent("/g", "a", 1000, "START one\nline\nEND one\n"),
            LogEvent("/g", "b", 1100, "START other\n"),
            LogEvent("/g", "a", 1500, "START two\n\nEND two\n"),
            LogEvent("/g", "a", 2600, "START three\n"),  # 1.6 s after the first: a row of its own
        ]
    )
    rows = store._conn().execute("SELECT log_stream, count(*) FROM log_blocks GROUP BY log_stream").fetchall()
    assert sorted(rows) == [("a", 2), ("b", 1)]
    events = store.read_forward(EventRange("/g", streams=["a"]), None, 100)
    assert [(e.message, e.timestamp) for e in events] == [
        ("START one", 1000),
        ("line", 1000),
        ("END one", 1000),
        ("START two", 1500),
        ("END two", 1500),
        ("START three", 2600),
    ]
    window = store.read_forward(EventRange("/g", streams=["a"], start=1200, end=2000), None, 100)
    assert [e.message for e in window] == ["START two", "END two"]
    after = store.read_forward(EventRange("/g", streams=["a"]), events[3].position, 100)
    assert [e.message for e in after] == ["END two", "START three"]
    before = store.read_backward(EventRange("/g", streams=["a"]), events[3].position, 2)
    assert [e.message for e in before] == ["line", "END one"]
    assert store.log_streams("/g", "", False, False, 0, 10)[0].stored_bytes == len(
        "START one\nline\nEND one\nSTART two\n\nEND two\nSTART three\n"
    )
    store.close()
