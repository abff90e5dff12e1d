"""Billing: the billed-duration rule, costs against the spec's worked examples (§12.3), and the ledger over a real
SQLite store."""

from __future__ import annotations

import asyncio
import calendar
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from firebox.config import ConfigError, load
from firebox.models.invocation import Outcome
from firebox.models.telemetry import InvocationRecord
from firebox.observability.billing import PriceTable, Usage, billed_duration_ms, cost, gb_seconds
from firebox.observability.ledger import Ledger, _MonthCache, month_of
from firebox.store.sqlite import SQLiteStore

PRICES = PriceTable.from_settings(load())
HOUR_MS = 3_600_000


def invocations(requests: int, memory_mb: int, billed_ms: int) -> Usage:
    return Usage(requests, requests * billed_ms, requests * memory_mb * billed_ms)


def provisioned(environments: int, memory_mb: int, hours: int) -> Usage:
    return Usage(provisioned_mb_ms=environments * memory_mb * hours * HOUR_MS)


def usd(amount: Decimal, places: str = "0.01") -> Decimal:
    return amount.quantize(Decimal(places), rounding=ROUND_HALF_UP)


# billed duration (§12.2)


@pytest.mark.parametrize(
    ("duration", "quantum", "billed"),
    [(4567.89, 1, 4568), (934.56, 1, 935), (1234.56, 100, 1300), (1200.0, 100, 1200), (0.2, 1, 1), (0.2, 100, 100)],
)
def test_billed_duration_rounds_up_to_the_quantum(duration: float, quantum: int, billed: int) -> None:
    assert billed_duration_ms(duration, 900_000, quantum_ms=quantum) == billed


def test_billed_duration_is_capped_at_the_timeout() -> None:
    assert billed_duration_ms(5003.45, 5000) == 5000
    assert billed_duration_ms(5000.0, 5000, quantum_ms=100) == 5000
    assert billed_duration_ms(4950.5, 5000, quantum_ms=100) == 5000
    assert billed_duration_ms(2999.01, 3000, quantum_ms=7) == 3000, "a quantum that does not divide the timeout"


def test_init_is_billed_only_when_asked_and_never_for_provisioned_environments() -> None:
    assert billed_duration_ms(600000.00, 900_000, init_duration_ms=476.75) == 600000, "the spec's default"
    assert billed_duration_ms(600000.00, 900_000, init_duration_ms=476.75, bill_init=True) == 600477, "AWS 2025"
    assert billed_duration_ms(100.0, 3000, quantum_ms=100, init_duration_ms=476.75, bill_init=True) == 600
    assert billed_duration_ms(12.5, 3000, init_duration_ms=476.75, provisioned=True, bill_init=True) == 13
    assert billed_duration_ms(12.5, 3000, bill_init=True) == 13, "a warm invocation has no init to bill"
    assert billed_duration_ms(3000.0, 3000, init_duration_ms=250.5, bill_init=True) == 3251, "init beyond the cap"


# costs: the worked examples of §12.3 (÷1024 throughout)


def test_one_million_requests_and_the_free_tier() -> None:
    usage = invocations(1_000_000, 512, 200)
    assert gb_seconds(usage.duration_mb_ms) == 100_000
    bill = cost(usage, PRICES)
    assert (usd(bill.duration), usd(bill.requests), usd(bill.total)) == (
        Decimal("1.67"),
        Decimal("0.20"),
        Decimal("1.87"),
    )
    assert cost(usage, PRICES, free_tier=True).total == 0


def test_free_tier_only_covers_what_is_beyond_it() -> None:
    usage = invocations(1_500_000, 1024, 1000)  # 1.5M GB-s
    with_free = cost(usage, PRICES, free_tier=True)
    assert with_free.requests == 500_000 * Decimal("0.0000002")
    assert with_free.duration == 1_100_000 * Decimal("0.0000166667")
    assert cost(provisioned(1, 1024, 1), PRICES, free_tier=True).provisioned > 0, "no free provisioned GB-s"


@pytest.mark.parametrize(
    ("requests", "memory", "billed_ms", "gbs", "total"),
    [
        (10_000_000, 1024, 3000, 30_000_000, "502.00"),
        (1_000_000, 128, 100, 12_500, "0.41"),
        (5_000_000, 1024, 500, 2_500_000, "42.67"),
    ],
)
def test_requests_plus_duration(requests: int, memory: int, billed_ms: int, gbs: int, total: str) -> None:
    usage = invocations(requests, memory, billed_ms)
    assert gb_seconds(usage.duration_mb_ms) == gbs
    assert usd(cost(usage, PRICES).total) == Decimal(total)


@pytest.mark.parametrize(
    ("memory", "billed_ms", "gbs", "duration"),
    [
        (128, 5000, 625_000, "10.42"),
        (256, 2500, 625_000, "10.42"),
        (512, 1500, 750_000, "12.50"),
        (1024, 1000, 1_000_000, "16.67"),
    ],
)
def test_duration_only(memory: int, billed_ms: int, gbs: int, duration: str) -> None:
    usage = invocations(1_000_000, memory, billed_ms)
    assert gb_seconds(usage.duration_mb_ms) == gbs
    assert usd(cost(usage, PRICES).duration) == Decimal(duration)


def test_small_and_long_workloads() -> None:
    assert usd(cost(invocations(10_000, 1024, 3000), PRICES).total) == Decimal("0.50")
    assert usd(cost(invocations(1_000_000, 1024, 1000), PRICES).total, "1") == Decimal("17")
    long_runs = invocations(30, 2048, 600_000)
    assert gb_seconds(long_runs.duration_mb_ms) == 36_000
    assert usd(cost(long_runs, PRICES).duration) == Decimal("0.60")


def test_3008_mb_is_not_3_gb() -> None:
    exact = invocations(100, 3008, 300_000)
    assert gb_seconds(exact.duration_mb_ms) == 88_125
    assert usd(cost(exact, PRICES).duration) == Decimal("1.47")
    assert usd(cost(invocations(100, 3072, 300_000), PRICES).duration) == Decimal("1.50"), "the spec's 3 GB"


def test_provisioned_concurrency_per_month() -> None:
    assert usd(cost(provisioned(50, 1024, 720), PRICES).provisioned) == Decimal("540.00")
    assert usd(cost(provisioned(10, 1024, 730), PRICES).total) == Decimal("109.50")


def test_provisioned_plus_usage_plus_an_api_gateway() -> None:
    usage = invocations(1_000_000, 512, 200)
    usage.add(provisioned(10, 512, 720))
    bill = cost(usage, PRICES)
    assert usd(bill.provisioned) == Decimal("54.00")
    assert usd(bill.total + Decimal(1), "1") == Decimal("57")


def test_single_invocations() -> None:
    assert usd(cost(invocations(1, 128, 5000), PRICES).duration, "0.0000000001") == Decimal("0.0000104167")
    assert usd(cost(invocations(1, 1024, 1000), PRICES).duration, "0.00000001") == Decimal("0.00001667")


def test_the_spec_divides_by_1000_where_firebox_divides_by_1024() -> None:
    assert usd(cost(invocations(1_000_000, 128, 4500), PRICES).duration, "0.001") == Decimal("9.375")
    assert usd(cost(invocations(1_000_000, 1024, 900), PRICES).duration) == Decimal("15.00")


def test_ephemeral_storage_above_512_mb() -> None:
    usage = Usage(ephemeral_mb_ms=(10240 - 512) * 1000)  # 10 GB of /tmp for one billed second
    assert cost(usage, PRICES).ephemeral == Decimal(9728) / 1024 * Decimal("0.0000000309")


def test_prices_come_from_the_settings(tmp_path: Path) -> None:
    config = tmp_path / "firebox.toml"
    config.write_text("price_request = 0.0000004\nprice_gb_second = 0.00001\nfree_tier_requests = 0\n")
    prices = PriceTable.from_settings(load(config_path=config))
    bill = cost(invocations(1_000_000, 1024, 1000), prices, free_tier=True)
    assert (bill.requests, bill.duration) == (Decimal("0.4"), Decimal("6.00000"))


@pytest.mark.parametrize(
    "environ",
    [
        {"FIREBOX_BILLING_QUANTUM_MS": "0"},
        {"FIREBOX_PRICE_GB_SECOND": "-1"},
        {"FIREBOX_PRICE_REQUEST": "nan"},
        {"FIREBOX_FREE_TIER_GB_SECONDS": "inf"},
        {"FIREBOX_BILLING_FLUSH_INTERVAL": "0"},
    ],
)
def test_bad_billing_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load(environ=environ)


# the ledger


def test_months_are_utc_calendar_months() -> None:
    new_year = calendar.timegm((2027, 1, 1, 0, 0, 0))
    months = _MonthCache()
    assert [months(new_year - 0.001), months(new_year), months(new_year - 1)] == ["2026-12", "2027-01", "2026-12"]
    assert month_of(new_year - 0.001) == "2026-12"


def record(function: str, billed: int, memory: int = 128, storage: int = 512, when: float = 0.0) -> InvocationRecord:
    return InvocationRecord(
        function=function,
        resource=None,
        executed_version="$LATEST",
        alias=False,
        outcome=Outcome.SUCCESS,
        timestamp=when or calendar.timegm((2026, 12, 1, 12, 0, 0)),
        duration_ms=billed - 0.5,
        billed_duration_ms=billed,
        memory_size_mb=memory,
        ephemeral_storage_mb=storage,
        max_memory_used_mb=40,
        init_duration_ms=None,
        provisioned=False,
        asynchronous=False,
        trace_id="Root=1-00000000-000000000000000000000000",
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "firebox.db")


def test_ledger_sums_what_is_recorded_and_written(store: SQLiteStore) -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(2) as executor:
            ledger = Ledger(store, executor, PRICES)
            ledger.record(record("a", 101, memory=256))
            ledger.record(record("a", 3, memory=256, storage=1024))
            ledger.record(record("b", 7))
            ledger.record(record("a", 5, when=calendar.timegm((2026, 11, 30, 23, 59, 59))))
            await ledger.flush()
            ledger.record(record("a", 1000, memory=256))  # pending, not written yet
            report = await ledger.report("2026-12", "a")
            assert [(f["FunctionName"], f["Requests"], f["BilledDurationMs"]) for f in report["Functions"]] == [
                ("a", 3, 1104)
            ]
            assert report["Functions"][0]["DurationMBMs"] == 256 * 1104
            assert report["Functions"][0]["GBSeconds"] == 256 * 1104 / 1024 / 1000
            assert report["Functions"][0]["EphemeralMBMs"] == 512 * 3
            assert report["Account"]["Requests"] == 4, "the account's totals include every function"
            free = report["Account"]["CostWithFreeTier"]
            assert (free["Requests"], free["Duration"]) == (0, 0)
            assert free["EphemeralStorage"] == free["Total"] == 512 * 3 / 1024 / 1000 * 0.0000000309
            await ledger.close()
            november = await Ledger(store, executor, PRICES).report("2026-11")
            assert [(f["FunctionName"], f["Requests"]) for f in november["Functions"]] == [("a", 1)]

    asyncio.run(scenario())
    assert store.usage("2026-12") == [
        ("2026-12", "a", "$LATEST", 3, 1104, 256 * 1104, 512 * 3, 0),
        ("2026-12", "b", "$LATEST", 1, 7, 128 * 7, 0, 0),
    ]


def test_a_failed_write_keeps_the_sums(store: SQLiteStore) -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(2) as executor:
            ledger = Ledger(store, executor, PRICES)
            ledger.record(record("a", 10))
            await ledger.flush()
            with sqlite3.connect(store.path) as conn:
                conn.execute("ALTER TABLE billing_usage RENAME TO billing_usage_away")
            ledger.record(record("a", 20))
            await ledger.flush()  # fails: logged, kept
            ledger.record(record("a", 30))
            with sqlite3.connect(store.path) as conn:
                conn.execute("ALTER TABLE billing_usage_away RENAME TO billing_usage")
            await ledger.close()

    asyncio.run(scenario())
    assert store.usage("2026-12") == [("2026-12", "a", "$LATEST", 3, 60, 128 * 60, 0, 0)]
