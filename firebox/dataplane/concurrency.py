"""Admission under the account's concurrency limit and functions' reserved concurrency.

A function with reserved concurrency R runs at most R invocations at once (R = 0: none), in its own share; every
other function draws from the unreserved pool, the account limit less all reservations. Over either bound a
synchronous invocation is throttled with 429 and the Reason Lambda gives. Counting is in memory, on the event
loop, with no lock and no I/O.
"""

from __future__ import annotations

from collections import defaultdict

from firebox.errors import TooManyRequestsException, ZeroReservedConcurrency

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
UNRESERVED = "ConcurrentInvocationLimitExceeded"


class ConcurrencyLimiter:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._running: defaultdict[str, int] = defaultdict(int)
        self._unreserved_running = 0
        self._total = 0
        self._peaks: dict[str, int] = {}
        self._account_peak = 0
        self._unreserved_peak = 0

    def admit(self, function: str, reserved: int | None, total_reserved: int) -> bool:
        """Count one more running invocation of `function`, or raise TooManyRequestsException. Returns whether it
        was counted in the unreserved pool (pass that to `release`)."""
        if reserved is not None:
            if self._running[function] >= reserved:
                if reserved == 0:
                    raise ZeroReservedConcurrency("Rate Exceeded.", Reason=RESERVED)
                raise TooManyRequestsException("Rate Exceeded.", Reason=RESERVED)
            self._running[function] += 1
            self._peak(function)
            return False
        if self._unreserved_running >= self.account_limit - total_reserved:
            raise TooManyRequestsException("Rate Exceeded.", Reason=UNRESERVED)
        self._unreserved_running += 1
        if self._unreserved_running > self._unreserved_peak:
            self._unreserved_peak = self._unreserved_running
        self._running[function] += 1
        self._peak(function)
        return True

    def _peak(self, function: str) -> None:
        """High-water marks for the ConcurrentExecutions metrics (read and reset by `take_peaks`)."""
        self._total += 1
        if self._total > self._account_peak:
            self._account_peak = self._total
        running = self._running[function]
        if running > self._peaks.get(function, 0):
            self._peaks[function] = running

    def release(self, function: str, unreserved: bool) -> None:
        self._total -= 1
        self._running[function] -= 1
        if not self._running[function]:
            del self._running[function]
        if unreserved:
            self._unreserved_running -= 1

    def take_peaks(self) -> tuple[int, int, dict[str, int]]:
        """The most invocations running at once since the last call: (account, unreserved pool, per function);
        the marks restart from what is running now."""
        peaks = (self._account_peak, self._unreserved_peak, self._peaks)
        self._account_peak, self._unreserved_peak = self._total, self._unreserved_running
        self._peaks = {function: running for function, running in self._running.items() if running}
        return peaks

    def statistics(self) -> dict[str, int]:
        return {"concurrent_executions": sum(self._running.values()), "unreserved_running": self._unreserved_running}
