"""EventBridge Scheduler in SQLite (migration 0018): schedule groups and their schedules.

A schedule is a JSON document in AWS's GetSchedule shape, owned by `control/schedules.py` (its GroupName, Name, State
and LastModificationDate are also columns); beside it the store keeps the last tick the schedule fired, which only the
schedule runner writes. Deleting a group deletes its schedules in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

_GROUP_COLUMNS = "name, tags, created, modified"


class SchedulesAndGroups:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # groups

    def create_schedule_group(self, name: str, tags: Mapping[str, str], now: float) -> bool:
        """False if a group of that name exists."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO schedule_groups (name, tags, created, modified) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (name, json.dumps(dict(tags)), now, now),
            )
            return cursor.rowcount == 1

    def get_schedule_group(self, name: str) -> dict[str, Any] | None:
        """Name, CreationDate, LastModificationDate (epoch seconds) and Tags (a dict)."""
        row = self._conn().execute(f"SELECT {_GROUP_COLUMNS} FROM schedule_groups WHERE name = ?", (name,)).fetchone()
        return _group(row) if row else None

    def list_schedule_groups(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Groups by name, those starting with `prefix`, after the name `after`."""
        rows = self._conn().execute(
            f"SELECT {_GROUP_COLUMNS} FROM schedule_groups WHERE substr(name, 1, ?) = ? AND name > ?"
            " ORDER BY name LIMIT ?",
            (len(prefix), prefix, after or "", limit),
        )
        return [_group(row) for row in rows]

    def delete_schedule_group(self, name: str) -> list[str] | None:
        """Delete the group and its schedules: the names of those schedules, None if there is no such group."""
        with self._write() as conn:
            names = [row[0] for row in conn.execute("SELECT name FROM schedules WHERE group_name = ?", (name,))]
            cursor = conn.execute("DELETE FROM schedule_groups WHERE name = ?", (name,))
            return names if cursor.rowcount == 1 else None

    def tag_schedule_group(self, name: str, set_tags: Mapping[str, str], remove_keys: Iterable[str]) -> bool:
        """Merge `set_tags` and drop `remove_keys`; False if there is no such group."""
        with self._write() as conn:
            row = conn.execute("SELECT tags FROM schedule_groups WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            tags = json.loads(row[0])
            tags.update(set_tags)
            for key in remove_keys:
                tags.pop(key, None)
            conn.execute("UPDATE schedule_groups SET tags = ? WHERE name = ?", (json.dumps(tags), name))
            return True

    # schedules

    def insert_schedule(self, doc: Mapping[str, Any]) -> bool | None:
        """Add a schedule (its GroupName and Name from `doc`): False if that name is taken in the group, None if
        the group does not exist."""
        with self._write() as conn:
            group = doc["GroupName"]
            if conn.execute("SELECT 1 FROM schedule_groups WHERE name = ?", (group,)).fetchone() is None:
                return None
            cursor = conn.execute(
                "INSERT INTO schedules (group_name, name, state, doc, modified) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (group, doc["Name"], doc["State"], _text(doc), doc["LastModificationDate"]),
            )
            return cursor.rowcount == 1

    def replace_schedule(self, doc: Mapping[str, Any]) -> bool:
        """Store `doc` over the schedule it names, keeping its last fired tick; False if it is gone."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE schedules SET state = ?, doc = ?, modified = ? WHERE group_name = ? AND name = ?",
                (doc["State"], _text(doc), doc["LastModificationDate"], doc["GroupName"], doc["Name"]),
            )
            return cursor.rowcount == 1

    def get_schedule(self, group: str, name: str) -> tuple[dict[str, Any], float | None] | None:
        """The schedule's document and the last tick it fired (None if none yet)."""
        row = (
            self._conn()
            .execute("SELECT doc, last_fired FROM schedules WHERE group_name = ? AND name = ?", (group, name))
            .fetchone()
        )
        return (json.loads(row[0]), row[1]) if row else None

    def list_schedules(
        self, group: str | None, prefix: str, state: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Schedules by group then name, of one group and in one state when given, whose names start with
        `prefix`, after (group, name) `after`."""
        after_group, after_name = after or ("", "")
        rows = self._conn().execute(
            "SELECT doc FROM schedules WHERE (? IS NULL OR group_name = ?) AND (? IS NULL OR state = ?)"
            " AND substr(name, 1, ?) = ? AND (group_name > ? OR (group_name = ? AND name > ?))"
            " ORDER BY group_name, name LIMIT ?",
            (group, group, state, state, len(prefix), prefix, after_group, after_group, after_name, limit),
        )
        return [json.loads(row[0]) for row in rows]

    def all_schedules(self) -> list[tuple[dict[str, Any], float | None]]:
        """Every schedule's document with the last tick it fired."""
        rows = self._conn().execute("SELECT doc, last_fired FROM schedules ORDER BY group_name, name")
        return [(json.loads(row[0]), row[1]) for row in rows]

    def delete_schedule(self, group: str, name: str, modified: float | None = None) -> bool:
        """Delete a schedule; with `modified`, only if its LastModificationDate is still that. False if nothing was
        deleted."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM schedules WHERE group_name = ? AND name = ? AND (? IS NULL OR modified = ?)",
                (group, name, modified, modified),
            )
            return cursor.rowcount == 1

    def set_schedule_fired(self, group: str, name: str, tick: float) -> bool:
        """Record `tick` as the last one the schedule fired (never moving it back); False if it is gone."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE schedules SET last_fired = max(coalesce(last_fired, ?), ?) WHERE group_name = ? AND name = ?",
                (tick, tick, group, name),
            )
            return cursor.rowcount == 1


def _text(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _group(row: tuple[Any, ...]) -> dict[str, Any]:
    name, tags, created, modified = row
    return {"Name": name, "CreationDate": created, "LastModificationDate": modified, "Tags": json.loads(tags)}
