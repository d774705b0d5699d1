"""The access log: one JSON object a line, written in batches.

A write per request would be a syscall per request on the hot path; lines are
buffered instead and flushed at least every `interval` seconds (and at exit).
"""

from __future__ import annotations

import atexit
import io
import logging
import time

LOGGER = "proxy.access"


class BatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, fd: int = 2, interval: float = 0.1) -> None:
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8")
        super().__init__(stream)
        self.setFormatter(logging.Formatter("%(message)s"))
        self._interval = interval
        self._flushed = time.monotonic()
        atexit.register(self.flush_now)

    def flush(self) -> None:
        # StreamHandler flushes after every record; only flush once per interval.
        now = time.monotonic()
        if now - self._flushed >= self._interval:
            self.flush_now()

    def flush_now(self) -> None:
        self._flushed = time.monotonic()
        with self.lock or _NO_LOCK:
            self.stream.flush()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


_NO_LOCK = _NoLock()


def install(interval: float = 0.1) -> BatchedHandler:
    handler = BatchedHandler(interval=interval)
    access = logging.getLogger(LOGGER)
    access.handlers = [handler]
    access.propagate = False
    return handler
