"""The memory scenario: N concurrent cold requests, each for a different variant.

Every request opens its own connection at the same moment, so the proxy holds
them all at once: the one original download they share, the renders queued
behind the workers, and each result. Only 200, or 503 with Retry-After, are
acceptable answers.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    cache: str | None
    bytes: int
    seconds: float


@dataclass(frozen=True)
class BurstResult:
    answers: list[Answer]
    seconds: float

    @property
    def statuses(self) -> dict[str, int]:
        return {
            str(status): n for status, n in sorted(Counter(a.status for a in self.answers).items())
        }

    @property
    def acceptable(self) -> bool:
        """Only 200s, and 503s that say when to come back."""
        return all(
            a.status == 200 or (a.status == 503 and a.retry_after is not None) for a in self.answers
        )

    @property
    def rps(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(a.seconds for a in self.answers)
        if not ordered:
            return 0.0
        if fraction == 0.5:
            return statistics.median(ordered) * 1000
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": len(self.answers),
            "seconds": round(self.seconds, 3),
            "statuses": self.statuses,
            "acceptable": self.acceptable,
            "retry_after": sorted({a.retry_after for a in self.answers if a.retry_after}),
            "cache": dict(Counter(a.cache or "-" for a in self.answers)),
            "p50_ms": round(self.percentile_ms(0.5), 1),
            "max_ms": round(max((a.seconds for a in self.answers), default=0) * 1000, 1),
        }


def burst(urls: list[str], seconds_allowed: float = 180.0) -> BurstResult:
    return asyncio.run(_burst(urls, seconds_allowed))


async def _burst(urls: list[str], seconds_allowed: float) -> BurstResult:
    connector = aiohttp.TCPConnector(limit=len(urls), force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=seconds_allowed)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        started = time.perf_counter()
        answers = await asyncio.gather(*(_get(session, url) for url in urls))
        return BurstResult(list(answers), time.perf_counter() - started)


async def _get(session: aiohttp.ClientSession, url: str) -> Answer:
    started = time.perf_counter()
    async with session.get(url) as response:
        body = await response.read()
        return Answer(
            status=response.status,
            retry_after=response.headers.get("Retry-After"),
            cache=response.headers.get("X-Cache-Status"),
            bytes=len(body),
            seconds=time.perf_counter() - started,
        )
