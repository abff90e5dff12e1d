"""Metric series and their per-period aggregates in the SQLite store (a mixin of `SQLiteStore`).

A write merges with the row already there for the same series, period start and resolution (counts and sums add,
minimum and maximum combine, histograms merge), so flushes can come as often as they like. Compaction rolls 1-minute
points up into 5-minute ones after 15 days and those into 1-hour ones after 63 days, and drops 1-hour points after
455 days, as CloudWatch does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from firebox.models.metrics import Dimensions, Histogram, MetricPoint, SeriesKey, Stat

DAY = 86_400
ROLL_UPS = ((60, 300, 15 * DAY), (300, 3600, 63 * DAY))
"""(from resolution, to resolution, age in seconds after which points are rolled up)."""
HOURLY_RETENTION = 455 * DAY


def encode_dimensions(dimensions: Dimensions) -> str:
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"), ensure_ascii=False)


def _decode_dimensions(text: str) -> Dimensions:
    return tuple((str(name), str(value)) for name, value in json.loads(text))


def _stat_of(count: float, total: float, low: float, high: float, histogram: str | None) -> Stat:
    stat = Stat(histogram=False)
    stat.count, stat.total, stat.low, stat.high = count, total, low, high
    stat.histogram = Histogram.decode(histogram) if histogram is not None else None
    return stat


def _row_of(stat: Stat) -> tuple[float, float, float, float, str | None]:
    return (
        stat.count,
        stat.total,
        stat.low,
        stat.high,
        stat.histogram.encode() if stat.histogram is not None else None,
    )


class MetricSeries:
    # provided by SQLiteStore
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def merge_metric_points(self, points: Sequence[MetricPoint]) -> None:
        """Add the points to what is stored, in one transaction."""
        with self._write() as conn:
            ids: dict[SeriesKey, int] = {}
            for point in points:
                series_id = ids.get(point.series)
                if series_id is None:
                    key = point.series
                    series_id = conn.execute(
                        "INSERT INTO metric_series (namespace, metric_name, dimensions, unit, last_seen)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, metric_name, dimensions, unit)"
                        " DO UPDATE SET last_seen = max(last_seen, excluded.last_seen) RETURNING id",
                        (key.namespace, key.metric_name, encode_dimensions(key.dimensions), key.unit, point.timestamp),
                    ).fetchone()[0]
                    ids[key] = series_id
                else:
                    conn.execute(
                        "UPDATE metric_series SET last_seen = max(last_seen, ?) WHERE id = ?",
                        (point.timestamp, series_id),
                    )
                _merge_row(conn, series_id, point.timestamp, point.resolution, point.stat)

    def metric_series(
        self, namespace: str, metric_name: str, dimensions: Dimensions, unit: str | None
    ) -> list[tuple[int, SeriesKey]]:
        """The series with exactly these dimensions (every unit, or only `unit`)."""
        sql = (
            "SELECT id, unit FROM metric_series WHERE namespace = ? AND metric_name = ? AND dimensions = ?"
            + (" AND unit = ?" if unit is not None else "")
            + " ORDER BY id"
        )
        args: tuple[str, ...] = (namespace, metric_name, encode_dimensions(dimensions))
        rows = self._conn().execute(sql, (*args, unit) if unit is not None else args).fetchall()
        return [(row[0], SeriesKey(namespace, metric_name, dimensions, row[1])) for row in rows]

    def metric_points(self, series_ids: Iterable[int], start: int, end: int) -> list[tuple[int, int, Stat]]:
        """(series id, period start, statistics) of every stored point with start <= timestamp < end."""
        found: list[tuple[int, int, Stat]] = []
        conn = self._conn()
        for series_id in series_ids:
            for row in conn.execute(
                "SELECT timestamp, sample_count, sum, minimum, maximum, histogram FROM metric_points"
                " WHERE series_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
                (series_id, start, end),
            ):
                found.append((series_id, row[0], _stat_of(*row[1:])))
        return found

    def list_metric_series(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimension_filter: Sequence[tuple[str, str | None]],
        after: int,
        limit: int,
        since: int,
    ) -> list[tuple[int, str, str, Dimensions]]:
        """Up to `limit` distinct (namespace, name, dimensions), each with the smallest id of its series, ids
        greater than `after`, having every filtered dimension (with the given value when there is one) and a point
        at or after `since` (epoch seconds)."""
        where: list[str] = ["last_seen >= ?"]
        args: list[object] = [since]
        if namespace is not None:
            where.append("namespace = ?")
            args.append(namespace)
        if metric_name is not None:
            where.append("metric_name = ?")
            args.append(metric_name)
        rows = self._conn().execute(
            "SELECT min(id), namespace, metric_name, dimensions FROM metric_series WHERE "
            + " AND ".join(where)
            + " GROUP BY namespace, metric_name, dimensions HAVING min(id) > ? ORDER BY 1",
            (*args, after),
        )
        found: list[tuple[int, str, str, Dimensions]] = []
        for series_id, ns, name, text in rows:
            dimensions = _decode_dimensions(text)
            present = dict(dimensions)
            if all(n in present and (v is None or present[n] == v) for n, v in dimension_filter):
                found.append((series_id, ns, name, dimensions))
                if len(found) >= limit:
                    break
        return found

    def compact_metrics(self, now: float) -> int:
        """Roll old points up and drop expired ones, in one transaction; the number of rows rolled up or dropped."""
        changed = 0
        with self._write() as conn:
            for source, target, age in ROLL_UPS:
                cutoff = int((now - age) // target * target)
                merged: dict[tuple[int, int], Stat] = {}
                rows = conn.execute(
                    "SELECT series_id, timestamp, sample_count, sum, minimum, maximum, histogram FROM metric_points"
                    " WHERE resolution = ? AND timestamp < ?",
                    (source, cutoff),
                ).fetchall()
                for series_id, timestamp, *stats in rows:
                    key = (series_id, timestamp // target * target)
                    stat = _stat_of(*stats)
                    if key in merged:
                        merged[key].merge(stat)
                    else:
                        merged[key] = stat
                for (series_id, timestamp), stat in merged.items():
                    _merge_row(conn, series_id, timestamp, target, stat)
                conn.execute("DELETE FROM metric_points WHERE resolution = ? AND timestamp < ?", (source, cutoff))
                changed += len(rows)
            changed += conn.execute(
                "DELETE FROM metric_points WHERE resolution = 3600 AND timestamp < ?", (int(now - HOURLY_RETENTION),)
            ).rowcount
            conn.execute(
                "DELETE FROM metric_series WHERE last_seen < ? AND NOT EXISTS"
                " (SELECT 1 FROM metric_points WHERE series_id = metric_series.id)",
                (int(now - HOURLY_RETENTION),),
            )
        return changed

    def metric_resolutions(self, series_id: int) -> list[tuple[int, int]]:
        """(period start, resolution) of a series' stored points, oldest first (for tests and diagnostics)."""
        return [
            (row[0], row[1])
            for row in self._conn().execute(
                "SELECT timestamp, resolution FROM metric_points WHERE series_id = ? ORDER BY timestamp, resolution",
                (series_id,),
            )
        ]


def _merge_row(conn: sqlite3.Connection, series_id: int, timestamp: int, resolution: int, stat: Stat) -> None:
    row = conn.execute(
        "SELECT sample_count, sum, minimum, maximum, histogram FROM metric_points"
        " WHERE series_id = ? AND timestamp = ? AND resolution = ?",
        (series_id, timestamp, resolution),
    ).fetchone()
    if row is not None:
        stored = _stat_of(*row)
        stored.merge(stat)
        stat = stored
    conn.execute(
        "INSERT OR REPLACE INTO metric_points"
        " (series_id, timestamp, resolution, sample_count, sum, minimum, maximum, histogram)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (series_id, timestamp, resolution, *_row_of(stat)),
    )
