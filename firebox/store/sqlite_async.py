"""The async event queue and event invoke configurations in the SQLite store (a mixin of `SQLiteStore`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from firebox.models.asynchronous import AsyncEvent, Delivery, EventInvokeConfig

_EVENT_COLUMNS = (
    "request_id, function_name, qualifier, invoked_arn, payload, enqueued_at, not_before, attempts, id, trace_id,"
    " source"
)


class AsyncQueueAndConfigs:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def enqueue_events(self, events: Sequence[AsyncEvent]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO async_events (request_id, function_name, qualifier, invoked_arn, payload, enqueued_at,"
                " not_before, attempts, trace_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.request_id,
                        e.function_name,
                        e.qualifier,
                        e.invoked_arn,
                        e.payload,
                        e.enqueued_at,
                        e.not_before,
                        e.attempts,
                        e.trace_id,
                        e.source,
                    )
                    for e in events
                ],
            )

    def lease_events(self, now: float, lease_until: float, limit: int) -> list[AsyncEvent]:
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE async_events SET lease_until = ? WHERE id IN (SELECT id FROM async_events"
                " WHERE lease_until IS NULL AND not_before <= ? ORDER BY not_before LIMIT ?)"
                f" RETURNING {_EVENT_COLUMNS}",
                (lease_until, now, limit),
            ).fetchall()
        return [AsyncEvent(*row) for row in rows]

    def finish_event(self, event_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM async_events WHERE id = ?", (event_id,))

    def requeue_event(self, event_id: int, not_before: float, attempts: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE async_events SET lease_until = NULL, not_before = ?, attempts = ? WHERE id = ?",
                (not_before, attempts, event_id),
            )

    def release_leases(self) -> int:
        """Give back every lease (at start: the previous server, which held them, is gone)."""
        with self._write() as conn:
            return conn.execute("UPDATE async_events SET lease_until = NULL WHERE lease_until IS NOT NULL").rowcount

    def next_event_due(self) -> float | None:
        row = self._conn().execute("SELECT min(not_before) FROM async_events WHERE lease_until IS NULL").fetchone()
        return None if row is None else row[0]

    def queue_statistics(self, function_name: str) -> dict[str, int]:
        queued, in_flight = (
            self._conn()
            .execute(
                "SELECT count(*) FILTER (WHERE lease_until IS NULL), count(*) FILTER (WHERE lease_until IS NOT NULL)"
                " FROM async_events WHERE function_name = ?",
                (function_name,),
            )
            .fetchone()
        )
        return {"queued": queued, "in_flight": in_flight}

    def async_totals(self) -> dict[str, int]:
        """Across all functions: events queued, events in flight, deliveries waiting."""
        conn = self._conn()
        queued, in_flight = conn.execute(
            "SELECT count(*) FILTER (WHERE lease_until IS NULL), count(*) FILTER (WHERE lease_until IS NOT NULL)"
            " FROM async_events"
        ).fetchone()
        (deliveries,) = conn.execute("SELECT count(*) FROM deliveries").fetchone()
        return {"queued": queued, "in_flight": in_flight, "deliveries": deliveries}

    # deliveries to destinations that can fail

    def add_delivery(self, delivery: Delivery) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO deliveries (destination, body, attributes, attempts, not_before, source_function,"
                " trace_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.destination,
                    delivery.body,
                    json.dumps(delivery.attributes),
                    delivery.attempts,
                    delivery.not_before,
                    delivery.source_function,
                    delivery.trace_id,
                ),
            )

    def lease_deliveries(self, now: float, lease_until: float, limit: int) -> list[Delivery]:
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT id FROM deliveries"
                " WHERE lease_until IS NULL AND not_before <= ? ORDER BY not_before LIMIT ?)"
                " RETURNING destination, body, not_before, attempts, id, attributes, source_function, trace_id",
                (lease_until, now, limit),
            ).fetchall()
        return [
            Delivery(
                destination=row[0],
                body=row[1],
                not_before=row[2],
                attempts=row[3],
                id=row[4],
                attributes=json.loads(row[5]),
                source_function=row[6],
                trace_id=row[7],
            )
            for row in rows
        ]

    def finish_delivery(self, delivery_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def retry_delivery(self, delivery_id: int, not_before: float, attempts: int, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE deliveries SET lease_until = NULL, not_before = ?, attempts = ?, last_error = ? WHERE id = ?",
                (not_before, attempts, error, delivery_id),
            )

    def release_delivery_leases(self) -> int:
        with self._write() as conn:
            return conn.execute("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL").rowcount

    # event invoke configs

    def get_event_invoke_config(self, function_name: str, qualifier: str) -> EventInvokeConfig | None:
        row = (
            self._conn()
            .execute(
                "SELECT config, last_modified FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
                (function_name, qualifier),
            )
            .fetchone()
        )
        return None if row is None else _config(row[0], row[1])

    def put_event_invoke_config(self, function_name: str, qualifier: str, config: EventInvokeConfig) -> None:
        doc = {
            "maximum_retry_attempts": config.maximum_retry_attempts,
            "maximum_event_age": config.maximum_event_age,
            "on_success": config.on_success,
            "on_failure": config.on_failure,
        }
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO event_invoke_configs (function_name, qualifier, config, last_modified)"
                " VALUES (?, ?, ?, ?)",
                (function_name, qualifier, json.dumps(doc), config.last_modified),
            )

    def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool:
        with self._write() as conn:
            return (
                conn.execute(
                    "DELETE FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
                    (function_name, qualifier),
                ).rowcount
                == 1
            )

    def list_event_invoke_configs(self, function_name: str) -> list[tuple[str, EventInvokeConfig]]:
        rows = (
            self._conn()
            .execute(
                "SELECT qualifier, config, last_modified FROM event_invoke_configs WHERE function_name = ?"
                " ORDER BY qualifier",
                (function_name,),
            )
            .fetchall()
        )
        return [(row[0], _config(row[1], row[2])) for row in rows]


def _config(text: str, last_modified: float) -> EventInvokeConfig:
    doc: dict[str, Any] = json.loads(text)
    return EventInvokeConfig(last_modified=last_modified, **doc)
