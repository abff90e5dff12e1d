"""The SQLite store: one file in WAL mode under the data directory, numbered migrations applied at open.

Each thread gets its own connection. Writes run in short `BEGIN IMMEDIATE` transactions; readers never block
them (WAL). `synchronous=NORMAL`: a committed transaction survives the process being killed; only a power loss
can take back the last few.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from firebox.models.function import (
    AccountUsage,
    CodeArchive,
    Function,
    FunctionConfig,
)
from firebox.store.codec import decode_config, encode_config
from firebox.store.sqlite_async import AsyncQueueAndConfigs
from firebox.store.sqlite_billing import MeteringLedger
from firebox.store.sqlite_events import EventBusesAndRules
from firebox.store.sqlite_gateway import GatewayApis
from firebox.store.sqlite_layers import LayersAndPolicies, Provisioned
from firebox.store.sqlite_logs import LogGroupsAndStreams
from firebox.store.sqlite_mappings import EventSourceMappings
from firebox.store.sqlite_metrics import MetricSeries
from firebox.store.sqlite_schedules import SchedulesAndGroups
from firebox.store.sqlite_urls import FunctionUrls
from firebox.store.sqlite_versions import VersionsAndAliases

BUSY_TIMEOUT_MS = 5000


class SQLiteStore(
    VersionsAndAliases,
    LayersAndPolicies,
    Provisioned,
    FunctionUrls,
    GatewayApis,
    EventSourceMappings,
    EventBusesAndRules,
    SchedulesAndGroups,
    AsyncQueueAndConfigs,
    LogGroupsAndStreams,
    MetricSeries,
    MeteringLedger,
):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        self.schema_version = _migrate(conn)

    # connections and transactions

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def health(self) -> dict[str, Any]:
        row = self._conn().execute("SELECT count(*) FROM functions").fetchone()
        return {
            "engine": "sqlite",
            "path": str(self.path),
            "schema_version": self.schema_version,
            "functions": row[0],
        }

    # functions

    def insert_function(self, config: FunctionConfig, tags: Mapping[str, str], created_at: float) -> bool:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO functions (name, tags, created_at) VALUES (?, ?, ?)",
                    (config.name, json.dumps(dict(tags)), created_at),
                )
                conn.execute(
                    "INSERT INTO function_versions (function_name, version, revision_id, code_sha256, settling, config)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        config.name,
                        config.version,
                        config.revision_id,
                        config.code.sha256,
                        config.is_settling,
                        encode_config(config),
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def get_function(self, name: str) -> Function | None:
        row = (
            self._conn()
            .execute(
                "SELECT f.tags, f.reserved_concurrency, v.config FROM functions f"
                " JOIN function_versions v ON v.function_name = f.name AND v.version = '$LATEST' WHERE f.name = ?",
                (name,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Function(latest=decode_config(row[2]), tags=json.loads(row[0]), reserved_concurrency=row[1])

    def get_config(self, name: str, version: str) -> FunctionConfig | None:
        row = (
            self._conn()
            .execute(
                "SELECT config FROM function_versions WHERE function_name = ? AND version = ?",
                (name, version),
            )
            .fetchone()
        )
        return None if row is None else decode_config(row[0])

    def replace_config(self, config: FunctionConfig, expected_revision: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE function_versions SET revision_id = ?, code_sha256 = ?, settling = ?, config = ?"
                " WHERE function_name = ? AND version = ? AND revision_id = ?",
                (
                    config.revision_id,
                    config.code.sha256,
                    config.is_settling,
                    encode_config(config),
                    config.name,
                    config.version,
                    expected_revision,
                ),
            )
            return cursor.rowcount == 1

    def list_configs(self, after: str | None, limit: int) -> list[FunctionConfig]:
        rows = (
            self._conn()
            .execute(
                "SELECT config FROM function_versions WHERE version = '$LATEST' AND function_name > ?"
                " ORDER BY function_name LIMIT ?",
                (after or "", limit),
            )
            .fetchall()
        )
        return [decode_config(row[0]) for row in rows]

    def delete_function(self, name: str) -> list[str] | None:
        with self._write() as conn:
            shas = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT code_sha256 FROM function_versions WHERE function_name = ?", (name,)
                )
            ]
            cursor = conn.execute("DELETE FROM functions WHERE name = ?", (name,))
            return shas if cursor.rowcount else None

    def update_tags(self, name: str, set_tags: Mapping[str, str], remove_keys: Iterable[str]) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT tags FROM functions WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            tags = json.loads(row[0])
            tags.update(set_tags)
            for key in remove_keys:
                tags.pop(key, None)
            conn.execute("UPDATE functions SET tags = ? WHERE name = ?", (json.dumps(tags), name))
            return True

    def settling_configs(self) -> list[FunctionConfig]:
        rows = self._conn().execute("SELECT config FROM function_versions WHERE settling = 1").fetchall()
        return [decode_config(row[0]) for row in rows]

    def account_usage(self) -> AccountUsage:
        conn = self._conn()
        count, reserved = conn.execute(
            "SELECT count(*), coalesce(sum(reserved_concurrency), 0) FROM functions"
        ).fetchone()
        (size,) = conn.execute(
            "SELECT coalesce(sum(a.size), 0) FROM function_versions v JOIN code_archives a ON a.sha256 = v.code_sha256"
        ).fetchone()
        return AccountUsage(function_count=count, total_code_size=size, reserved_concurrency=reserved)

    def set_reserved_concurrency(
        self, name: str, reserved: int | None, account_limit: int, minimum_unreserved: int
    ) -> str:
        """Set (None: remove) a function's reserved concurrency unless it would leave fewer than
        `minimum_unreserved` executions unreserved. Returns "ok", "missing" or "too-much"."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM functions WHERE name = ?", (name,)).fetchone() is None:
                return "missing"
            (others,) = conn.execute(
                "SELECT coalesce(sum(reserved_concurrency), 0) FROM functions WHERE name != ?", (name,)
            ).fetchone()
            if reserved is not None and account_limit - others - reserved < minimum_unreserved:
                return "too-much"
            conn.execute("UPDATE functions SET reserved_concurrency = ? WHERE name = ?", (reserved, name))
            return "ok"

    # code archives

    def get_code_archive(self, sha256: str) -> CodeArchive | None:
        row = (
            self._conn().execute("SELECT size, unzipped_size FROM code_archives WHERE sha256 = ?", (sha256,)).fetchone()
        )
        return None if row is None else CodeArchive(sha256, row[0], row[1])

    def put_code_archive(self, archive: CodeArchive, created_at: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO code_archives (sha256, size, unzipped_size, created_at) VALUES (?, ?, ?, ?)",
                (archive.sha256, archive.size, archive.unzipped_size, created_at),
            )

    def code_in_use(self, sha256: str) -> bool:
        """Used as a function's code, as a layer version, or as a layer of some function version (a rare scan of
        the stored configurations, done only when an archive may be collected)."""
        conn = self._conn()
        return (
            conn.execute("SELECT 1 FROM function_versions WHERE code_sha256 = ? LIMIT 1", (sha256,)).fetchone()
            or conn.execute("SELECT 1 FROM layer_versions WHERE code_sha256 = ? LIMIT 1", (sha256,)).fetchone()
            or conn.execute(
                "SELECT 1 FROM function_versions WHERE config LIKE ? LIMIT 1", (f'%"sha256":"{sha256}"%',)
            ).fetchone()
        ) is not None

    def delete_code_archive(self, sha256: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM code_archives WHERE sha256 = ?", (sha256,))


def _migrate(conn: sqlite3.Connection) -> int:
    """Apply the numbered `migrations/NNNN_*.sql` files not yet applied, each in its own transaction."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    scripts = sorted(
        (int(entry.name.split("_", 1)[0]), entry)
        for entry in resources.files("firebox.store.migrations").iterdir()
        if entry.name.endswith(".sql")
    )
    for number, entry in scripts:
        if number in applied:
            continue
        sql = entry.read_text(encoding="utf-8")
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\n"
                f"INSERT INTO schema_migrations (version, name) VALUES ({number}, '{entry.name}');\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return scripts[-1][0] if scripts else 0
