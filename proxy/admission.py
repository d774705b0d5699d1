"""Admission control in front of the render workers: a bounded queue and a
memory budget, so overload is a fast 503 and never an out-of-memory crash.

A render is admitted with its estimated memory cost (from the image header,
after shrink-on-load). It then waits, in a queue of at most `max_queue`, until
a worker slot is free and the budget has room for it. A render bigger than the whole budget is not
refused: it waits until nothing else is running and then runs alone, so peak
memory is at most max(budget, the largest single render).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import ServiceUnavailable
from .metrics import Metrics


class Admission:
    def __init__(
        self,
        *,
        slots: int,
        max_queue: int,
        budget_bytes: int,
        wait_seconds: float,
        metrics: Metrics,
    ) -> None:
        self._slots = slots
        self._running = 0
        self._max_queue = max_queue
        self._budget = budget_bytes
        self._wait_seconds = wait_seconds
        self._metrics = metrics
        self._used = 0
        self._waiting = 0
        self._changed = asyncio.Condition()

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def used(self) -> int:
        return self._used

    @asynccontextmanager
    async def admit(self, cost: int) -> AsyncIterator[None]:
        async with self._changed:
            if not self._fits(cost):
                await self._wait_in_queue(cost)
            self._used += cost
            self._running += 1
        try:
            yield
        finally:
            async with self._changed:
                self._used -= cost
                self._running -= 1
                self._changed.notify_all()

    async def _wait_in_queue(self, cost: int) -> None:
        """Called with the condition's lock held."""
        if self._waiting >= self._max_queue:
            self._metrics.rejected.labels("queue").inc()
            raise ServiceUnavailable("server busy", retry_after=2)
        self._waiting += 1
        try:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self._fits(cost)), self._wait_seconds
            )
        except TimeoutError:
            self._metrics.rejected.labels("memory").inc()
            raise ServiceUnavailable("server busy", retry_after=5) from None
        finally:
            self._waiting -= 1

    def _fits(self, cost: int) -> bool:
        if self._running >= self._slots:
            return False
        return self._used == 0 or self._used + cost <= self._budget
