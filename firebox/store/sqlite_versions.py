"""Published versions and aliases in the SQLite store (a mixin of `SQLiteStore`, kept apart for size)."""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from firebox.models.function import LATEST, Alias, FunctionConfig, LastUpdateStatus, State
from firebox.store.codec import decode_config, encode_config

_ALIAS_COLUMNS = (
    "function_name, name, function_version, revision_id, description, additional_version, additional_weight"
)


class VersionsAndAliases:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # versions

    def publish_version(self, name: str, expected_latest_revision: str, latest_revision: str) -> FunctionConfig | None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT f.last_version, v.config FROM functions f JOIN function_versions v"
                " ON v.function_name = f.name AND v.version = '$LATEST' WHERE f.name = ? AND v.revision_id = ?",
                (name, expected_latest_revision),
            ).fetchone()
            if row is None:
                return None
            number = row[0] + 1
            latest = decode_config(row[1])
            published = dataclasses.replace(
                latest,
                version=str(number),
                revision_id=str(uuid.uuid4()),
                state=State.ACTIVE if latest.state is State.ACTIVE else latest.state,
                last_update_status=LastUpdateStatus.SUCCESSFUL if latest.state is State.ACTIVE else None,
                last_update_status_reason=None,
                last_update_status_reason_code=None,
            )
            conn.execute("UPDATE functions SET last_version = ? WHERE name = ?", (number, name))
            conn.execute(
                "INSERT INTO function_versions (function_name, version, version_number, revision_id, code_sha256,"
                " settling, config) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    published.version,
                    number,
                    published.revision_id,
                    published.code.sha256,
                    published.is_settling,
                    encode_config(published),
                ),
            )
            bumped = dataclasses.replace(latest, revision_id=latest_revision)
            conn.execute(
                "UPDATE function_versions SET revision_id = ?, config = ? WHERE function_name = ? AND version = ?",
                (latest_revision, encode_config(bumped), name, LATEST),
            )
            return published

    def newest_version(self, name: str) -> FunctionConfig | None:
        row = (
            self._conn()
            .execute(
                "SELECT config FROM function_versions WHERE function_name = ? AND version_number > 0"
                " ORDER BY version_number DESC LIMIT 1",
                (name,),
            )
            .fetchone()
        )
        return None if row is None else decode_config(row[0])

    def list_versions(self, name: str, after: int, limit: int) -> list[FunctionConfig]:
        rows = (
            self._conn()
            .execute(
                "SELECT config FROM function_versions WHERE function_name = ? AND version_number > ?"
                " ORDER BY version_number LIMIT ?",
                (name, after, limit),
            )
            .fetchall()
        )
        return [decode_config(row[0]) for row in rows]

    def list_all_configs(self, after: tuple[str, int] | None, limit: int) -> list[FunctionConfig]:
        name, number = after if after is not None else ("", -1)
        rows = (
            self._conn()
            .execute(
                "SELECT config FROM function_versions"
                " WHERE function_name > ? OR (function_name = ? AND version_number > ?)"
                " ORDER BY function_name, version_number LIMIT ?",
                (name, name, number, limit),
            )
            .fetchall()
        )
        return [decode_config(row[0]) for row in rows]

    def delete_version(self, name: str, version: str) -> str | None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT code_sha256 FROM function_versions WHERE function_name = ? AND version = ?", (name, version)
            ).fetchone()
            if row is None or version == LATEST:
                return None
            conn.execute("DELETE FROM function_versions WHERE function_name = ? AND version = ?", (name, version))
            return str(row[0])

    # aliases

    def insert_alias(self, alias: Alias) -> bool:
        try:
            with self._write() as conn:
                conn.execute(f"INSERT INTO aliases ({_ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", _row(alias))
        except sqlite3.IntegrityError:
            return False
        return True

    def get_alias(self, function_name: str, name: str) -> Alias | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE function_name = ? AND name = ?", (function_name, name)
            )
            .fetchone()
        )
        return None if row is None else _alias(row)

    def replace_alias(self, alias: Alias, expected_revision: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE aliases SET function_version = ?, revision_id = ?, description = ?, additional_version = ?,"
                " additional_weight = ? WHERE function_name = ? AND name = ? AND revision_id = ?",
                (
                    alias.function_version,
                    alias.revision_id,
                    alias.description,
                    alias.additional_version,
                    alias.additional_weight,
                    alias.function_name,
                    alias.name,
                    expected_revision,
                ),
            )
            return cursor.rowcount == 1

    def delete_alias(self, function_name: str, name: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM aliases WHERE function_name = ? AND name = ?", (function_name, name))
            return cursor.rowcount == 1

    def list_aliases(self, function_name: str, version: str | None, after: str | None, limit: int) -> list[Alias]:
        query = f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE function_name = ? AND name > ?"
        params: list[Any] = [function_name, after or ""]
        if version is not None:
            query += " AND (function_version = ? OR additional_version = ?)"
            params += [version, version]
        rows = self._conn().execute(query + " ORDER BY name LIMIT ?", (*params, limit)).fetchall()
        return [_alias(row) for row in rows]

    def aliases_of_version(self, function_name: str, version: str) -> list[str]:
        rows = (
            self._conn()
            .execute(
                "SELECT name FROM aliases WHERE function_name = ? AND (function_version = ? OR additional_version = ?)"
                " ORDER BY name",
                (function_name, version, version),
            )
            .fetchall()
        )
        return [row[0] for row in rows]


def _row(alias: Alias) -> tuple[Any, ...]:
    return (
        alias.function_name,
        alias.name,
        alias.function_version,
        alias.revision_id,
        alias.description,
        alias.additional_version,
        alias.additional_weight,
    )


def _alias(row: Iterator[Any] | tuple[Any, ...]) -> Alias:
    function_name, name, version, revision, description, additional, weight = row
    return Alias(function_name, name, version, revision, description, additional, weight or 0.0)
