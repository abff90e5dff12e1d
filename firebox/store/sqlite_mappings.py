"""Event source mappings and their pollers' checkpoints in SQLite (`event_source_mappings`, `esm_checkpoints`,
migration 0016)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from firebox.models.mappings import Checkpoint, EventSourceMapping, MappingState, SourceKind

_COLUMNS = "uuid, function_name, qualifier, source_arn, kind, state, state_reason, last_result, modified, params"


class EventSourceMappings:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def insert_mapping(self, mapping: EventSourceMapping) -> bool:
        """False if the function does not exist (any more)."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM functions WHERE name = ?", (mapping.function_name,)).fetchone() is None:
                return False
            conn.execute(f"INSERT INTO event_source_mappings ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", _row(mapping))
            return True

    def replace_mapping(self, mapping: EventSourceMapping, expected_state: MappingState | None = None) -> bool:
        """Store `mapping` over the one with its UUID; with `expected_state`, only if it is still in that state.
        False if it is gone (or moved on)."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE event_source_mappings SET function_name = ?, qualifier = ?, state = ?, state_reason = ?,"
                " last_result = ?, modified = ?, params = ? WHERE uuid = ? AND (? IS NULL OR state = ?)",
                (
                    mapping.function_name,
                    mapping.qualifier or "",
                    mapping.state.value,
                    mapping.state_reason,
                    mapping.last_result,
                    mapping.modified,
                    _json(mapping.params),
                    mapping.uuid,
                    expected_state,
                    expected_state,
                ),
            )
            return cursor.rowcount == 1

    def set_mapping_result(self, uuid: str, last_result: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE event_source_mappings SET last_result = ? WHERE uuid = ?", (last_result, uuid))

    def delete_mapping(self, uuid: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,)).rowcount == 1

    def get_mapping(self, uuid: str) -> EventSourceMapping | None:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM event_source_mappings WHERE uuid = ?", (uuid,)).fetchone()
        return _mapping(row) if row else None

    def list_mappings(
        self, function_name: str | None, source_arn: str | None, after: str | None, limit: int
    ) -> list[EventSourceMapping]:
        """Mappings by UUID, of one function and/or one source when given, starting after the UUID `after`."""
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM event_source_mappings WHERE (? IS NULL OR function_name = ?)"
            " AND (? IS NULL OR source_arn = ?) AND (? IS NULL OR uuid > ?) ORDER BY uuid LIMIT ?",
            (function_name, function_name, source_arn, source_arn, after, after, limit),
        )
        return [_mapping(row) for row in rows]

    def all_mappings(self) -> list[EventSourceMapping]:
        rows = self._conn().execute(f"SELECT {_COLUMNS} FROM event_source_mappings ORDER BY uuid")
        return [_mapping(row) for row in rows]

    def get_checkpoints(self, mapping_uuid: str) -> dict[str, Checkpoint]:
        rows = self._conn().execute(
            "SELECT shard_id, sequence_number, state, updated FROM esm_checkpoints WHERE mapping_uuid = ?",
            (mapping_uuid,),
        )
        return {
            shard: Checkpoint(mapping_uuid, shard, sequence, json.loads(state), updated)
            for shard, sequence, state, updated in rows
        }

    def put_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Write (or overwrite) one shard's checkpoint; False if the mapping is gone. Durable when it returns."""
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO esm_checkpoints (mapping_uuid, shard_id, sequence_number, state, updated)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (mapping_uuid, shard_id) DO UPDATE SET"
                    " sequence_number = excluded.sequence_number, state = excluded.state, updated = excluded.updated",
                    (
                        checkpoint.mapping_uuid,
                        checkpoint.shard_id,
                        checkpoint.sequence_number,
                        _json(checkpoint.state),
                        checkpoint.updated,
                    ),
                )
            except sqlite3.IntegrityError:
                return False
            return True


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _row(mapping: EventSourceMapping) -> tuple[Any, ...]:
    return (
        mapping.uuid,
        mapping.function_name,
        mapping.qualifier or "",
        mapping.source_arn,
        mapping.kind.value,
        mapping.state.value,
        mapping.state_reason,
        mapping.last_result,
        mapping.modified,
        _json(mapping.params),
    )


def _mapping(row: tuple[Any, ...]) -> EventSourceMapping:
    uuid, function_name, qualifier, source_arn, kind, state, reason, result, modified, params = row
    return EventSourceMapping(
        uuid,
        function_name,
        qualifier or None,
        source_arn,
        SourceKind(kind),
        MappingState(state),
        reason,
        result,
        modified,
        json.loads(params),
    )
