"""API Gateway APIs and their parts in SQLite (`gateway_apis`, `gateway_parts`, migration 0015).

The control plane owns the documents' shapes (`control/http_apis.py`, `control/rest_apis.py`); the store keeps
them whole, durable and consistent: a part can only be written while its API exists.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


class GatewayApis:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def put_gateway_api(self, api_id: str, kind: str, doc: dict[str, Any], created: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO gateway_apis (api_id, kind, doc, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (api_id) DO UPDATE SET doc = excluded.doc",
                (api_id, kind, _text(doc), created),
            )

    def get_gateway_api(self, api_id: str) -> tuple[str, dict[str, Any]] | None:
        row = self._conn().execute("SELECT kind, doc FROM gateway_apis WHERE api_id = ?", (api_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def list_gateway_apis(self, kind: str) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT doc FROM gateway_apis WHERE kind = ? ORDER BY created, api_id", (kind,))
        return [json.loads(row[0]) for row in rows]

    def delete_gateway_api(self, api_id: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM gateway_apis WHERE api_id = ?", (api_id,)).rowcount == 1

    def put_gateway_part(self, api_id: str, kind: str, part_id: str, doc: dict[str, Any]) -> bool:
        """Insert or replace a part; False if the API does not exist."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM gateway_apis WHERE api_id = ?", (api_id,)).fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO gateway_parts (api_id, kind, part_id, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (api_id, kind, part_id) DO UPDATE SET doc = excluded.doc",
                (api_id, kind, part_id, _text(doc)),
            )
            return True

    def get_gateway_part(self, api_id: str, kind: str, part_id: str) -> dict[str, Any] | None:
        row = (
            self._conn()
            .execute(
                "SELECT doc FROM gateway_parts WHERE api_id = ? AND kind = ? AND part_id = ?", (api_id, kind, part_id)
            )
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def list_gateway_parts(self, api_id: str, kind: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT doc FROM gateway_parts WHERE api_id = ? AND kind = ? ORDER BY rowid", (api_id, kind)
        )
        return [json.loads(row[0]) for row in rows]

    def delete_gateway_part(self, api_id: str, kind: str, part_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM gateway_parts WHERE api_id = ? AND kind = ? AND part_id = ?", (api_id, kind, part_id)
            )
            return cursor.rowcount == 1


def _text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))
