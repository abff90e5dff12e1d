"""EventBridge in SQLite (migration 0017): event buses, rules, targets, scheduled rules' last ticks and deliveries
waiting to be retried.

Buses, rules and targets are JSON documents in AWS's own shapes, owned by `control/events.py`; the store keeps them
whole and consistent (a rule only on a bus that exists, a target only on a rule that exists, at most `limit` targets
per rule, a rule with targets or a bus with rules never deleted) in one transaction each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from firebox.store.base import EventRetry

_RETRY_COLUMNS = "id, rule_arn, target, event, payload, attempts, first_at, not_before, last_error"


class EventBusesAndRules:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # buses

    def create_event_bus(self, name: str, doc: dict[str, Any], now: float) -> bool:
        """False if a bus of that name exists."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO event_buses (name, doc, created, modified) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (name, _text(doc), now, now),
            )
            return cursor.rowcount == 1

    def get_event_bus(self, name: str) -> dict[str, Any] | None:
        row = (
            self._conn()
            .execute("SELECT name, doc, created, modified FROM event_buses WHERE name = ?", (name,))
            .fetchone()
        )
        return _bus(row) if row else None

    def list_event_buses(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Buses by name, those starting with `prefix`, after the name `after`."""
        rows = self._conn().execute(
            "SELECT name, doc, created, modified FROM event_buses WHERE substr(name, 1, ?) = ? AND name > ?"
            " ORDER BY name LIMIT ?",
            (len(prefix), prefix, after or "", limit),
        )
        return [_bus(row) for row in rows]

    def count_event_buses(self) -> int:
        row = self._conn().execute("SELECT count(*) FROM event_buses").fetchone()
        return int(row[0])

    def delete_event_bus(self, name: str) -> bool | None:
        """True once deleted; False if it still has rules (then it is kept); None if there is no such bus."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM event_buses WHERE name = ?", (name,)).fetchone() is None:
                return None
            if conn.execute("SELECT 1 FROM event_rules WHERE bus = ? LIMIT 1", (name,)).fetchone() is not None:
                return False
            conn.execute("DELETE FROM event_buses WHERE name = ?", (name,))
            return True

    # rules

    def put_event_rule(self, bus: str, name: str, doc: dict[str, Any], limit: int) -> bool | None:
        """Create or replace a rule (its targets stay). None if the bus does not exist; False if creating it would
        give the bus more than `limit` rules."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM event_buses WHERE name = ?", (bus,)).fetchone() is None:
                return None
            exists = conn.execute("SELECT 1 FROM event_rules WHERE bus = ? AND name = ?", (bus, name)).fetchone()
            if exists is None:
                count = conn.execute("SELECT count(*) FROM event_rules WHERE bus = ?", (bus,)).fetchone()[0]
                if count >= limit:
                    return False
            conn.execute(
                "INSERT INTO event_rules (bus, name, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (bus, name) DO UPDATE SET doc = excluded.doc",
                (bus, name, _text(doc)),
            )
            return True

    def get_event_rule(self, bus: str, name: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT doc FROM event_rules WHERE bus = ? AND name = ?", (bus, name)).fetchone()
        return _doc(row[0]) if row else None

    def list_event_rules(self, bus: str, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """The bus's rules by name, those starting with `prefix`, after the name `after`."""
        rows = self._conn().execute(
            "SELECT doc FROM event_rules WHERE bus = ? AND substr(name, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?",
            (bus, len(prefix), prefix, after or "", limit),
        )
        return [_doc(row[0]) for row in rows]

    def all_event_rules(self) -> list[tuple[str, dict[str, Any]]]:
        """(bus, rule document) of every rule."""
        rows = self._conn().execute("SELECT bus, doc FROM event_rules ORDER BY bus, name")
        return [(row[0], _doc(row[1])) for row in rows]

    def delete_event_rule(self, bus: str, name: str) -> bool | None:
        """True once deleted; False if it still has targets (then it is kept); None if there is no such rule."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM event_rules WHERE bus = ? AND name = ?", (bus, name)).fetchone() is None:
                return None
            has_targets = conn.execute(
                "SELECT 1 FROM event_targets WHERE bus = ? AND rule = ? LIMIT 1", (bus, name)
            ).fetchone()
            if has_targets is not None:
                return False
            conn.execute("DELETE FROM event_rules WHERE bus = ? AND name = ?", (bus, name))
            conn.execute("DELETE FROM event_timers WHERE key = ?", (f"rule:{bus}/{name}",))
            return True

    # targets

    def put_event_targets(self, bus: str, rule: str, targets: Sequence[dict[str, Any]], limit: int) -> bool | None:
        """Add or replace targets by `Id`. None if the rule does not exist; False (nothing written) if the rule
        would have more than `limit` targets."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM event_rules WHERE bus = ? AND name = ?", (bus, rule)).fetchone() is None:
                return None
            existing = {
                row[0]: row[1]
                for row in conn.execute(
                    "SELECT target_id, position FROM event_targets WHERE bus = ? AND rule = ?", (bus, rule)
                )
            }
            new_ids = {t["Id"] for t in targets} - existing.keys()
            if len(existing) + len(new_ids) > limit:
                return False
            position = max(existing.values(), default=0)
            for target in targets:
                if target["Id"] not in existing:
                    position += 1
                    existing[target["Id"]] = position
                conn.execute(
                    "INSERT INTO event_targets (bus, rule, target_id, arn, position, doc) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (bus, rule, target_id) DO UPDATE SET arn = excluded.arn, doc = excluded.doc",
                    (bus, rule, target["Id"], target["Arn"], existing[target["Id"]], _text(target)),
                )
            return True

    def remove_event_targets(self, bus: str, rule: str, ids: Sequence[str]) -> list[str] | None:
        """Remove targets by Id; returns the ids that were there. None if the rule does not exist."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM event_rules WHERE bus = ? AND name = ?", (bus, rule)).fetchone() is None:
                return None
            removed = []
            for target_id in ids:
                cursor = conn.execute(
                    "DELETE FROM event_targets WHERE bus = ? AND rule = ? AND target_id = ?", (bus, rule, target_id)
                )
                if cursor.rowcount:
                    removed.append(target_id)
            return removed

    def list_event_targets(self, bus: str, rule: str) -> list[dict[str, Any]] | None:
        """The rule's targets in the order they were added; None if the rule does not exist."""
        conn = self._conn()
        if conn.execute("SELECT 1 FROM event_rules WHERE bus = ? AND name = ?", (bus, rule)).fetchone() is None:
            return None
        rows = conn.execute(
            "SELECT doc FROM event_targets WHERE bus = ? AND rule = ? ORDER BY position", (bus, rule)
        ).fetchall()
        return [_doc(row[0]) for row in rows]

    def event_targets_of_bus(self, bus: str) -> dict[str, list[dict[str, Any]]]:
        """Every target of every rule of the bus, by rule name, in the order they were added."""
        found: dict[str, list[dict[str, Any]]] = {}
        rows = self._conn().execute("SELECT rule, doc FROM event_targets WHERE bus = ? ORDER BY rule, position", (bus,))
        for row in rows:
            found.setdefault(row[0], []).append(_doc(row[1]))
        return found

    def event_rules_by_target(self, bus: str, arn: str, after: str | None, limit: int) -> list[str]:
        """Names of the bus's rules with a target of that ARN, by name, after the name `after`."""
        rows = self._conn().execute(
            "SELECT DISTINCT rule FROM event_targets WHERE arn = ? AND bus = ? AND rule > ? ORDER BY rule LIMIT ?",
            (arn, bus, after or "", limit),
        )
        return [row[0] for row in rows]

    # scheduled rules

    def get_event_timer(self, key: str) -> float | None:
        """When the timer `key` last fired (epoch seconds), None if never."""
        row = self._conn().execute("SELECT last_fired FROM event_timers WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else None

    def set_event_timer(self, key: str, last_fired: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO event_timers (key, last_fired) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET last_fired = excluded.last_fired",
                (key, last_fired),
            )

    # deliveries to retry

    def add_event_retry(self, retry: EventRetry) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO event_retries (rule_arn, target, event, payload, attempts, first_at, not_before,"
                " last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    retry.rule_arn,
                    _text(retry.target),
                    _text(retry.event),
                    retry.payload,
                    retry.attempts,
                    retry.first_at,
                    retry.not_before,
                    retry.last_error,
                ),
            )

    def lease_event_retries(self, now: float, lease_until: float, limit: int) -> list[EventRetry]:
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE event_retries SET lease_until = ? WHERE id IN (SELECT id FROM event_retries"
                " WHERE lease_until IS NULL AND not_before <= ? ORDER BY not_before LIMIT ?)"
                f" RETURNING {_RETRY_COLUMNS}",
                (lease_until, now, limit),
            ).fetchall()
        return [_retry(row) for row in rows]

    def next_event_retry_due(self) -> float | None:
        row = self._conn().execute("SELECT min(not_before) FROM event_retries WHERE lease_until IS NULL").fetchone()
        return None if row[0] is None else float(row[0])

    def retry_event_later(self, retry_id: int, not_before: float, attempts: int, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE event_retries SET not_before = ?, attempts = ?, last_error = ?, lease_until = NULL"
                " WHERE id = ?",
                (not_before, attempts, error, retry_id),
            )

    def finish_event_retry(self, retry_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM event_retries WHERE id = ?", (retry_id,))

    def release_event_retry_leases(self) -> int:
        with self._write() as conn:
            return conn.execute("UPDATE event_retries SET lease_until = NULL WHERE lease_until IS NOT NULL").rowcount


def _text(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _doc(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc


def _bus(row: tuple[Any, ...]) -> dict[str, Any]:
    return {**_doc(row[1]), "Name": row[0], "CreationTime": row[2], "LastModifiedTime": row[3]}


def _retry(row: tuple[Any, ...]) -> EventRetry:
    return EventRetry(
        id=row[0],
        rule_arn=row[1],
        target=_doc(row[2]),
        event=_doc(row[3]),
        payload=bytes(row[4]),
        attempts=row[5],
        first_at=row[6],
        not_before=row[7],
        last_error=row[8],
    )
