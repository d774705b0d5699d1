"""In-process caching: a byte-bounded LRU of variants, and single-flight.

Both are per process; across replicas, hashing the request URI at the load
balancer sends one variant to one replica, so they stay effective fleet-wide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from cachetools import LRUCache


class Sized(Protocol):
    @property
    def size(self) -> int: ...


V = TypeVar("V", bound=Sized)
K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class MemoryCache(Generic[K, V]):
    """LRU bounded by the total `size` (bytes) of its values, not their count."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._lru: LRUCache[K, V] | None = (
            LRUCache(maxsize=max_bytes, getsizeof=lambda value: max(1, value.size))
            if max_bytes > 0
            else None
        )

    def get(self, key: K) -> V | None:
        return self._lru.get(key) if self._lru is not None else None

    def put(self, key: K, value: V) -> None:
        # Anything over an eighth of the cache would evict too much to be worth it.
        if self._lru is not None and value.size <= self._max_bytes // 8:
            self._lru[key] = value

    def discard(self, key: K) -> None:
        if self._lru is not None:
            self._lru.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        if self._lru is not None:
            for key in [key for key in self._lru if predicate(key)]:
                self._lru.pop(key, None)

    @property
    def bytes(self) -> int:
        return int(self._lru.currsize) if self._lru is not None else 0

    def __len__(self) -> int:
        return len(self._lru) if self._lru is not None else 0


class SingleFlight(Generic[K, R]):
    """Concurrent calls with one key share one execution and its outcome.

    A failure is shared with everybody waiting at that moment and then
    forgotten, so the next call tries again. A waiter that gives up (its own
    deadline, a client gone) does not cancel the work for the others.
    """

    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Future[R]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[R]]) -> tuple[R, bool]:
        """Returns the result and whether this call was the one that did the work."""
        future = self._inflight.get(key)
        if future is not None:
            return await asyncio.shield(future), False
        task = asyncio.ensure_future(work())
        self._inflight[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task), True

    def _forget(self, key: K, task: asyncio.Future[R]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: a failure nobody waited for is not "unhandled"

    def __len__(self) -> int:
        return len(self._inflight)
