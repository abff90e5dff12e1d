"""Function URL configurations in SQLite (`function_urls`, migration 0014)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from firebox.models.urls import FunctionUrlConfig

_COLUMNS = "url_id, function_name, qualifier, auth_type, cors, invoke_mode, created, modified"


class FunctionUrls:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def insert_function_url(self, config: FunctionUrlConfig) -> bool:
        """False if the function (or alias) already has a URL."""
        with self._write() as conn:
            try:
                conn.execute(f"INSERT INTO function_urls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _row(config))
            except sqlite3.IntegrityError:
                return False
            return True

    def replace_function_url(self, config: FunctionUrlConfig) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE function_urls SET auth_type = ?, cors = ?, invoke_mode = ?, modified = ? WHERE url_id = ?",
                (config.auth_type, _cors(config), config.invoke_mode, config.modified, config.url_id),
            )
            return cursor.rowcount == 1

    def delete_function_url(self, function_name: str, qualifier: str | None) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM function_urls WHERE function_name = ? AND qualifier = ?", (function_name, qualifier or "")
            )
            return cursor.rowcount == 1

    def get_function_url(self, function_name: str, qualifier: str | None) -> FunctionUrlConfig | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM function_urls WHERE function_name = ? AND qualifier = ?",
                (function_name, qualifier or ""),
            )
            .fetchone()
        )
        return _config(row) if row else None

    def function_url_by_id(self, url_id: str) -> FunctionUrlConfig | None:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM function_urls WHERE url_id = ?", (url_id,)).fetchone()
        return _config(row) if row else None

    def list_function_urls(self, function_name: str, after: str | None, limit: int) -> list[FunctionUrlConfig]:
        """The function's URLs by qualifier (`$LATEST`'s first), starting after the qualifier `after`."""
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM function_urls WHERE function_name = ? AND (? IS NULL OR qualifier > ?)"
            " ORDER BY qualifier LIMIT ?",
            (function_name, after, after, limit),
        )
        return [_config(row) for row in rows]


def _cors(config: FunctionUrlConfig) -> str | None:
    return None if config.cors is None else json.dumps(config.cors, separators=(",", ":"))


def _row(config: FunctionUrlConfig) -> tuple[Any, ...]:
    return (
        config.url_id,
        config.function_name,
        config.qualifier or "",
        config.auth_type,
        _cors(config),
        config.invoke_mode,
        config.created,
        config.modified,
    )


def _config(row: tuple[Any, ...]) -> FunctionUrlConfig:
    url_id, function_name, qualifier, auth_type, cors, invoke_mode, created, modified = row
    return FunctionUrlConfig(
        url_id,
        function_name,
        qualifier or None,
        auth_type,
        None if cors is None else json.loads(cors),
        invoke_mode,
        created,
        modified,
    )
