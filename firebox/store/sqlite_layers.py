"""Layer versions and resource policies in the SQLite store (a mixin of `SQLiteStore`, kept apart for size)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from firebox.models.function import CodeArchive, LayerVersion

_COLUMNS = (
    "l.layer_name, l.version, l.code_sha256, a.size, a.unzipped_size, l.created_at, l.description, l.license_info,"
    " l.compatible_runtimes, l.compatible_architectures"
)
_FROM = " FROM layer_versions l JOIN code_archives a ON a.sha256 = l.code_sha256"


class LayersAndPolicies:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def publish_layer_version(self, layer: LayerVersion) -> LayerVersion:
        """Store `layer` under the next version number of its layer (its own `version` is ignored)."""
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO layers (name) VALUES (?)", (layer.layer_name,))
            conn.execute("UPDATE layers SET last_version = last_version + 1 WHERE name = ?", (layer.layer_name,))
            (number,) = conn.execute("SELECT last_version FROM layers WHERE name = ?", (layer.layer_name,)).fetchone()
            conn.execute(
                "INSERT INTO layer_versions (layer_name, version, code_sha256, description, license_info,"
                " compatible_runtimes, compatible_architectures, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    layer.layer_name,
                    number,
                    layer.code.sha256,
                    layer.description,
                    layer.license_info,
                    json.dumps(list(layer.compatible_runtimes)),
                    json.dumps(list(layer.compatible_architectures)),
                    layer.created_at,
                ),
            )
        return LayerVersion(
            layer.layer_name,
            number,
            layer.code,
            layer.created_at,
            layer.description,
            layer.license_info,
            layer.compatible_runtimes,
            layer.compatible_architectures,
        )

    def get_layer_version(self, name: str, version: int) -> LayerVersion | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS}{_FROM} WHERE l.layer_name = ? AND l.version = ?", (name, version))
            .fetchone()
        )
        return None if row is None else _layer(row)

    def list_layer_versions(self, name: str, before: int | None, limit: int) -> list[LayerVersion]:
        """Newest first, below version `before`."""
        rows = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS}{_FROM} WHERE l.layer_name = ? AND l.version < ? ORDER BY l.version DESC LIMIT ?",
                (name, before if before is not None else 1 << 62, limit),
            )
            .fetchall()
        )
        return [_layer(row) for row in rows]

    def list_layer_names(self, after: str | None, limit: int) -> list[str]:
        rows = (
            self._conn()
            .execute(
                "SELECT DISTINCT layer_name FROM layer_versions WHERE layer_name > ? ORDER BY layer_name LIMIT ?",
                (after or "", limit),
            )
            .fetchall()
        )
        return [row[0] for row in rows]

    def delete_layer_version(self, name: str, version: int) -> str | None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT code_sha256 FROM layer_versions WHERE layer_name = ? AND version = ?", (name, version)
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM layer_versions WHERE layer_name = ? AND version = ?", (name, version))
            return str(row[0])

    # resource policies

    def get_policy(self, function_name: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        row = (
            self._conn()
            .execute(
                "SELECT statements, revision_id FROM policies WHERE function_name = ? AND qualifier = ?",
                (function_name, qualifier),
            )
            .fetchone()
        )
        return None if row is None else (json.loads(row[0]), row[1])

    def put_policy(
        self,
        function_name: str,
        qualifier: str,
        statements: list[dict[str, Any]],
        revision_id: str,
        expected_revision: str | None,
    ) -> bool:
        """Replace the policy (deleting it when `statements` is empty) if its RevisionId is still
        `expected_revision` (None: there was no policy)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT revision_id FROM policies WHERE function_name = ? AND qualifier = ?", (function_name, qualifier)
            ).fetchone()
            if (row[0] if row else None) != expected_revision:
                return False
            if not statements:
                conn.execute(
                    "DELETE FROM policies WHERE function_name = ? AND qualifier = ?", (function_name, qualifier)
                )
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO policies (function_name, qualifier, statements, revision_id)"
                    " VALUES (?, ?, ?, ?)",
                    (function_name, qualifier, json.dumps(statements), revision_id),
                )
            return True


class Provisioned:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def put_provisioned(self, function_name: str, qualifier: str, requested: int, last_modified: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO provisioned_configs (function_name, qualifier, requested, last_modified)"
                " VALUES (?, ?, ?, ?)",
                (function_name, qualifier, requested, last_modified),
            )

    def delete_provisioned(self, function_name: str, qualifier: str) -> bool:
        with self._write() as conn:
            return (
                conn.execute(
                    "DELETE FROM provisioned_configs WHERE function_name = ? AND qualifier = ?",
                    (function_name, qualifier),
                ).rowcount
                == 1
            )

    def list_provisioned(self, function_name: str | None = None) -> list[tuple[str, str, int, float]]:
        """(function, qualifier, requested, last modified) of one function, or of all."""
        query = "SELECT function_name, qualifier, requested, last_modified FROM provisioned_configs"
        if function_name is None:
            return [tuple(row) for row in self._conn().execute(query + " ORDER BY function_name, qualifier")]
        rows = self._conn().execute(query + " WHERE function_name = ? ORDER BY qualifier", (function_name,))
        return [tuple(row) for row in rows]


def _layer(row: tuple[Any, ...]) -> LayerVersion:
    name, version, sha, size, unzipped, created, description, license_info, runtimes, architectures = row
    return LayerVersion(
        name,
        version,
        CodeArchive(sha, size, unzipped),
        created,
        description,
        license_info,
        tuple(json.loads(runtimes)),
        tuple(json.loads(architectures)),
    )
