"""Render processes: every core renders, the event loop never does.

Why processes and not threads: a render that runs past its deadline (a hostile
file, a pathological decoder path) must stop costing CPU, and a thread cannot
be killed. Each worker is one process serving one render at a time over a pipe;
when a render misses its deadline the worker is killed and replaced, and the
client gets a 503. A worker that dies mid-render (a decoder crash on a fuzzed
file) is replaced too, and the request gets a 422.

Workers are handed out through a queue of idle ones, which also bounds how many
renders run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from multiprocessing.context import BaseContext
from typing import Any

from . import imaging
from .admission import Admission
from .errors import ProxyError, ServiceUnavailable, Unprocessable
from .imaging import Limits, Rendered, SourceInfo
from .options import ResizeOptions

log = logging.getLogger(__name__)
#: Bytes of originals each worker keeps for further renders of them.
WORKER_SOURCE_BYTES = 32 * 1024 * 1024
#: What an upload's inspection decodes: the smallest shrink-on-load.
_INSPECTION = ResizeOptions(width=1, height=1, fit="fill")


def _context() -> BaseContext:
    # forkserver: workers start from a clean, single-threaded parent that has
    # already imported PIL, so a replacement starts in milliseconds and never
    # inherits the event loop's threads or sockets.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["proxy.imaging"])
    return ctx


class SourceCache:
    """Originals a worker already holds, so a burst of sizes of one original
    crosses the pipe once. The parent keeps a mirror of each worker's cache
    (sizes only) with the same capacity and eviction order, so both sides
    always agree on what the worker has without asking."""

    def __init__(self, capacity: int = WORKER_SOURCE_BYTES) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[str, Any] = OrderedDict()
        self.size = 0

    def get(self, source_id: str) -> Any:
        self.entries.move_to_end(source_id)
        return self.entries[source_id]

    def __contains__(self, source_id: str) -> bool:
        return source_id in self.entries

    def put(self, source_id: str, value: Any, size: int) -> None:
        if source_id in self.entries:
            return
        while self.entries and self.size + size > self.capacity:
            _, evicted = self.entries.popitem(last=False)
            self.size -= evicted if isinstance(evicted, int) else len(evicted)
        self.entries[source_id] = value
        self.size += size


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """The worker process: run (function, source, arguments) requests until the
    pipe closes; `source` is the original's bytes, or the id of bytes it holds."""
    _return_big_buffers_to_the_os()
    held = SourceCache()
    while True:
        try:
            function, source, args = conn.recv()
        except (EOFError, OSError):
            return
        source_id, data = source
        if data is None:
            data = held.get(source_id)
        elif source_id is not None:
            held.put(source_id, data, len(data))
        try:
            reply: tuple[str, Any] = ("ok", function(data, *args))
        except ProxyError as exc:
            reply = ("error", exc)
        except Exception:  # a bug: report it as such, keep serving
            log.exception("render failed")
            reply = ("bug", None)
        conn.send(reply)


def _return_big_buffers_to_the_os() -> None:
    """glibc raises its mmap threshold after the first big free, after which image
    buffers come from the heap and are never given back: an idle worker keeps
    the peak of its biggest render. A fixed threshold keeps big buffers mmapped,
    so memory returns to the OS after each render (a few % of render speed)."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 4 * 1024 * 1024)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


_M_MMAP_THRESHOLD = -3


class _Worker:
    def __init__(self, ctx: BaseContext) -> None:
        self.sources = SourceCache()  # a mirror: ids and sizes of what the worker holds
        self.conn, child = multiprocessing.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)  # type: ignore[attr-defined]
        self.process.start()
        child.close()

    def call(self, request: tuple[Callable[..., Any], Any, tuple[Any, ...]]) -> tuple[str, Any]:
        """Blocking round trip; runs on a helper thread, never on the loop."""
        self.conn.send(request)
        return self.conn.recv()  # type: ignore[no-any-return]

    def source(self, source_id: str | None, data: bytes) -> tuple[str | None, bytes | None]:
        """What to send for `data`: only its id when the worker holds it already."""
        if source_id is None or len(data) > self.sources.capacity // 2:
            return (None, data)
        if source_id in self.sources:
            self.sources.get(source_id)  # same recency update as the worker's
            return (source_id, None)
        self.sources.put(source_id, len(data), len(data))
        return (source_id, data)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        self.conn.close()  # the worker sees EOF and exits
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class Renderer:
    """`await renderer.render(data, options)` in a worker process, with a deadline."""

    def __init__(
        self, workers: int, timeout: float, limits: Limits, admission: Admission | None = None
    ) -> None:
        self._ctx = _context()
        self._admission = admission
        self._timeout = timeout
        self._limits = limits
        self._size = workers
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render-io")
        self._all: set[_Worker] = set()
        self._reclaiming: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(
            *(loop.run_in_executor(self._threads, _Worker, self._ctx) for _ in range(self._size))
        )
        for worker in workers:
            self._all.add(worker)
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        workers = list(self._all)
        self._all.clear()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.stop) for w in workers))
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def render(
        self, data: bytes, options: ResizeOptions, source_id: str | None = None
    ) -> Rendered:
        # The header is read here, on the loop (microseconds), to know the cost.
        cost = imaging.memory_needed(data, options, self._limits)
        async with self._admitted(cost):
            rendered = await self._run(imaging.render, source_id, data, options, self._limits)
        assert isinstance(rendered, Rendered)
        return rendered

    async def inspect(self, data: bytes) -> SourceInfo:
        """Check that a whole upload decodes, within the limits."""
        cost = imaging.memory_needed(data, _INSPECTION, self._limits)
        async with self._admitted(cost):
            info = await self._run(imaging.inspect, None, data, self._limits)
        assert isinstance(info, SourceInfo)
        return info

    def _admitted(self, cost: int) -> AbstractAsyncContextManager[None]:
        return self._admission.admit(cost) if self._admission else contextlib.nullcontext()

    async def _run(
        self, function: Callable[..., object], source_id: str | None, data: bytes, *args: object
    ) -> object:
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        request = (function, worker.source(source_id, data), args)
        call = loop.run_in_executor(self._threads, worker.call, request)
        try:
            status, value = await asyncio.wait_for(asyncio.shield(call), self._timeout)
        except TimeoutError:
            # The pending call ends with EOFError once the worker is killed: retrieve it.
            call.add_done_callback(lambda done: done.cancelled() or done.exception())
            log.warning("render missed its %.1fs deadline; replacing the worker", self._timeout)
            await self._replace(worker)
            raise ServiceUnavailable("render timed out", retry_after=5) from None
        except (EOFError, OSError):
            log.warning("render worker died; replacing it")
            await self._replace(worker)
            raise Unprocessable("image cannot be decoded") from None
        except asyncio.CancelledError:
            # The caller went away: the worker is still busy; reclaim it when done.
            task = asyncio.ensure_future(self._reclaim(worker, call))
            self._reclaiming.add(task)
            task.add_done_callback(self._reclaiming.discard)
            raise
        else:
            self._idle.put_nowait(worker)
        if status == "ok":
            return value
        if status == "error":
            assert isinstance(value, ProxyError)
            raise value
        raise RuntimeError("render worker reported a bug")

    async def _reclaim(self, worker: _Worker, call: asyncio.Future[tuple[str, Any]]) -> None:
        try:
            await asyncio.wait_for(call, self._timeout)
        except (TimeoutError, EOFError, OSError):
            await self._replace(worker)
        else:
            self._idle.put_nowait(worker)

    async def _replace(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        self._all.discard(worker)
        await loop.run_in_executor(None, worker.kill)
        fresh = await loop.run_in_executor(None, _Worker, self._ctx)
        self._all.add(fresh)
        self._idle.put_nowait(fresh)
