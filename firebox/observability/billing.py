"""Billing: what an invocation is billed for, and what a month of usage costs.

Pure functions only (the ledger that collects usage is `observability/ledger.py`). Usage is kept in integers so
nothing drifts: durations in ms and compute in MB·ms; a GB-second is 1024 MB × 1000 ms, so
`GB-s = MB·ms / 1_024_000` is an exact decimal and costs are computed in `Decimal`.

- billed duration: `ceil(duration / q) × q` (q = 1 ms, or 100 ms in legacy mode), at least one quantum, never past
  the timeout; with `bill_init` an on-demand cold start also bills its Init Duration (AWS's rule since 2025-08);
  provisioned environments never bill init per invocation.
- costs: requests × price; GB-s × price for duration; provisioned GB-s (the configured amount × memory × time it
  is configured) × price; ephemeral storage above the free 512 MB: `(storage − 512)/1024 × billed_s × price`.
- free tier (monthly, account-wide): 1M requests and 400,000 GB-s of duration, applied only when asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

MB_MS_PER_GB_SECOND = 1024 * 1000
FREE_EPHEMERAL_MB = 512


def billed_duration_ms(
    duration_ms: float,
    timeout_ms: int,
    *,
    quantum_ms: int = 1,
    init_duration_ms: float | None = None,
    provisioned: bool = False,
    bill_init: bool = False,
) -> int:
    """The Billed Duration of one invocation (what the REPORT line prints and the ledger charges)."""
    billable_init = init_duration_ms if bill_init and init_duration_ms is not None and not provisioned else 0.0
    run = min(duration_ms, float(timeout_ms))
    billed = max(1, math.ceil((run + billable_init) / quantum_ms)) * quantum_ms
    return min(billed, timeout_ms + math.ceil(billable_init))


def gb_seconds(mb_ms: int) -> Decimal:
    """MB·ms → GB-seconds, exactly."""
    return Decimal(mb_ms) / MB_MS_PER_GB_SECOND


def ephemeral_mb(ephemeral_storage_mb: int) -> int:
    """The part of an environment's /tmp that is billed (above the free 512 MB)."""
    return max(0, ephemeral_storage_mb - FREE_EPHEMERAL_MB)


class PriceSettings(Protocol):
    """The fields of `firebox.config.Settings` the price table is built from."""

    @property
    def price_request(self) -> float: ...
    @property
    def price_gb_second(self) -> float: ...
    @property
    def price_provisioned_gb_second(self) -> float: ...
    @property
    def price_ephemeral_gb_second(self) -> float: ...
    @property
    def free_tier_requests(self) -> int: ...
    @property
    def free_tier_gb_seconds(self) -> float: ...


def _decimal(value: float | int) -> Decimal:
    return Decimal(repr(value))  # 0.0000166667 stays 0.0000166667, not its binary neighbour


@dataclass(frozen=True, slots=True)
class PriceTable:
    """USD prices (spec §12.1 by default; every price is a setting)."""

    request: Decimal = Decimal("0.0000002")
    gb_second: Decimal = Decimal("0.0000166667")
    provisioned_gb_second: Decimal = Decimal("0.0000041667")
    ephemeral_gb_second: Decimal = Decimal("0.0000000309")
    free_requests: int = 1_000_000
    free_gb_seconds: Decimal = Decimal(400_000)

    @classmethod
    def from_settings(cls, settings: PriceSettings) -> PriceTable:
        return cls(
            _decimal(settings.price_request),
            _decimal(settings.price_gb_second),
            _decimal(settings.price_provisioned_gb_second),
            _decimal(settings.price_ephemeral_gb_second),
            settings.free_tier_requests,
            _decimal(settings.free_tier_gb_seconds),
        )

    def as_document(self) -> dict[str, Any]:
        return {
            "Request": float(self.request),
            "GBSecond": float(self.gb_second),
            "ProvisionedGBSecond": float(self.provisioned_gb_second),
            "EphemeralGBSecond": float(self.ephemeral_gb_second),
            "FreeTierRequests": self.free_requests,
            "FreeTierGBSeconds": float(self.free_gb_seconds),
        }


@dataclass(slots=True)
class Usage:
    """Sums for one (month, function, version), or any total of them. Integers only."""

    requests: int = 0
    billed_ms: int = 0
    duration_mb_ms: int = 0
    """Σ memory MB × billed ms."""
    ephemeral_mb_ms: int = 0
    """Σ (ephemeral storage − 512) MB × billed ms."""
    provisioned_mb_ms: int = 0
    """Σ configured provisioned environments × memory MB × ms configured."""

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.billed_ms += other.billed_ms
        self.duration_mb_ms += other.duration_mb_ms
        self.ephemeral_mb_ms += other.ephemeral_mb_ms
        self.provisioned_mb_ms += other.provisioned_mb_ms

    def as_row(self) -> tuple[int, int, int, int, int]:
        return (self.requests, self.billed_ms, self.duration_mb_ms, self.ephemeral_mb_ms, self.provisioned_mb_ms)

    def empty(self) -> bool:
        return not any(self.as_row())


@dataclass(frozen=True, slots=True)
class Cost:
    requests: Decimal
    duration: Decimal
    provisioned: Decimal
    ephemeral: Decimal

    @property
    def total(self) -> Decimal:
        return self.requests + self.duration + self.provisioned + self.ephemeral

    def as_document(self) -> dict[str, float]:
        return {
            "Requests": float(self.requests),
            "Duration": float(self.duration),
            "ProvisionedConcurrency": float(self.provisioned),
            "EphemeralStorage": float(self.ephemeral),
            "Total": float(self.total),
        }


def request_cost(requests: int, prices: PriceTable) -> Decimal:
    return requests * prices.request


def duration_cost(gbs: Decimal, prices: PriceTable) -> Decimal:
    return gbs * prices.gb_second


def provisioned_cost(gbs: Decimal, prices: PriceTable) -> Decimal:
    return gbs * prices.provisioned_gb_second


def ephemeral_cost(gbs: Decimal, prices: PriceTable) -> Decimal:
    return gbs * prices.ephemeral_gb_second


def cost(usage: Usage, prices: PriceTable, free_tier: bool = False) -> Cost:
    """What `usage` costs; with `free_tier`, the month's free requests and duration GB-s come off first (use it
    on an account's whole month, since the free tier is per account)."""
    requests = usage.requests
    duration = gb_seconds(usage.duration_mb_ms)
    if free_tier:
        requests = max(0, requests - prices.free_requests)
        duration = max(Decimal(0), duration - prices.free_gb_seconds)
    return Cost(
        request_cost(requests, prices),
        duration_cost(duration, prices),
        provisioned_cost(gb_seconds(usage.provisioned_mb_ms), prices),
        ephemeral_cost(gb_seconds(usage.ephemeral_mb_ms), prices),
    )


def usage_document(usage: Usage) -> dict[str, Any]:
    return {
        "Requests": usage.requests,
        "BilledDurationMs": usage.billed_ms,
        "GBSeconds": float(gb_seconds(usage.duration_mb_ms)),
        "ProvisionedGBSeconds": float(gb_seconds(usage.provisioned_mb_ms)),
        "EphemeralGBSeconds": float(gb_seconds(usage.ephemeral_mb_ms)),
        "DurationMBMs": usage.duration_mb_ms,
        "ProvisionedMBMs": usage.provisioned_mb_ms,
        "EphemeralMBMs": usage.ephemeral_mb_ms,
    }


def cost_report(month: str, rows: list[tuple[str, str, Usage]], account: Usage, prices: PriceTable) -> dict[str, Any]:
    """The `/firebox/cost` document: one entry per (function, version) in `rows`, and the account's whole month
    without and with the free tier."""
    return {
        "Month": month,
        "Currency": "USD",
        "Prices": prices.as_document(),
        "Functions": [
            {
                "FunctionName": function,
                "Version": version,
                **usage_document(usage),
                "Cost": cost(usage, prices).as_document(),
            }
            for function, version, usage in rows
        ],
        "Account": {
            **usage_document(account),
            "Cost": cost(account, prices).as_document(),
            "CostWithFreeTier": cost(account, prices, free_tier=True).as_document(),
        },
    }
