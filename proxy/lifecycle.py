"""Graceful drain: count requests in flight, and know when we are stopping."""

from __future__ import annotations

import asyncio


class Lifecycle:
    """`draining` turns `/readyz` to 503; `wait_idle` waits for in-flight requests."""

    def __init__(self) -> None:
        self.draining = False
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.inflight += 1
        self._idle.clear()

    def finished(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            self._idle.set()

    async def wait_idle(self, within: float) -> bool:
        """True when every in-flight request finished within `within` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True
