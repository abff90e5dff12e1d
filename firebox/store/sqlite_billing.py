"""The metering ledger in the SQLite store (a mixin of `SQLiteStore`): usage sums per month, function and version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from firebox.store.base import UsageRow

_COLUMNS = "requests, billed_ms, duration_mb_ms, ephemeral_mb_ms, provisioned_mb_ms"


class MeteringLedger:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def add_usage(self, rows: Sequence[UsageRow]) -> None:
        """Add each row's sums to what is recorded, in one transaction."""
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO billing_usage (month, function_name, version, {_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (month, function_name, version) DO UPDATE SET"
                " requests = requests + excluded.requests,"
                " billed_ms = billed_ms + excluded.billed_ms,"
                " duration_mb_ms = duration_mb_ms + excluded.duration_mb_ms,"
                " ephemeral_mb_ms = ephemeral_mb_ms + excluded.ephemeral_mb_ms,"
                " provisioned_mb_ms = provisioned_mb_ms + excluded.provisioned_mb_ms",
                rows,
            )

    def usage(self, month: str) -> list[UsageRow]:
        """Everything recorded for a month, ordered by function and version."""
        rows = self._conn().execute(
            f"SELECT month, function_name, version, {_COLUMNS} FROM billing_usage WHERE month = ?"
            " ORDER BY function_name, version",
            (month,),
        )
        return [tuple(row) for row in rows]
