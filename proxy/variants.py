"""Variants: where they are looked up, rendered and stored.

Lookup order: memory -> result store (S3) -> render. A render is single-flight
per variant, and the original's bytes are single-flight per key, so a burst of
identical misses costs one S3 GET and one render. The result-store write runs
in the background: the response never waits for it and never fails because of it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from cachetools import LRUCache, TTLCache

from .cache import MemoryCache, SingleFlight
from .errors import NotFound, ServiceUnavailable
from .imaging import PIPELINE_VERSION, Rendered
from .metrics import Metrics
from .options import ResizeOptions
from .renderer import Renderer
from .storage import ObjectMeta, ObjectStore, StoredObject

log = logging.getLogger(__name__)

CacheStatus = Literal["MISS", "HIT-MEMORY", "HIT-STORE"]
#: Seconds an original's bytes are kept for other renders of it.
SOURCE_TTL = 10.0


@dataclass(frozen=True)
class Variant:
    """A rendered image, ready to send."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime | None
    source_etag: str
    #: When the original's ETag was last seen equal to `source_etag` (monotonic clock).
    verified_at: float = 0.0

    @property
    def size(self) -> int:
        return len(self.body)

    @classmethod
    def of(cls, rendered: Rendered, source: StoredObject, *, verified_at: float) -> Variant:
        return cls(
            body=rendered.body,
            content_type=rendered.content_type,
            etag=strong_etag(rendered.body),
            last_modified=source.meta.last_modified,
            source_etag=source.meta.etag,
            verified_at=verified_at,
        )


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def variant_key(result_prefix: str, key: str, options: ResizeOptions) -> str:
    """Where a variant lives in S3: a short hash first spreads the load over key
    prefixes (S3 rates are per prefix); all variants of one original share a
    folder, so they can be listed and deleted together."""
    name = options.canonical.replace("&", ",")
    return f"{variant_folder(result_prefix, key)}v{PIPELINE_VERSION}/{name}"


@dataclass
class Served:
    """A variant and how it was obtained, for headers and Server-Timing."""

    variant: Variant
    cache_status: CacheStatus
    #: Seconds spent per step: "store" (result-store read), "fetch", "render".
    timings: dict[str, float] = field(default_factory=dict)


class Variants:
    """Variants of originals: memory -> result store -> render, kept fresh.

    Freshness: every variant remembers its original's ETag. When a variant is
    older than `revalidate_seconds` (since rendered or last checked), the
    original is HEADed once and a changed ETag means the variant is rendered
    again. `invalidate` (after an upload or delete through this process) drops
    a key's variants at once, and a generation number per key keeps renders
    that were already running from caching or storing the old picture.
    """

    def __init__(
        self,
        store: ObjectStore,
        renderer: Renderer,
        memory: MemoryCache[tuple[str, str], Variant],
        *,
        result_prefix: str,
        max_source_bytes: int,
        revalidate_seconds: float,
        source_cache_bytes: int = 128 * 1024 * 1024,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._memory = memory
        self._result_prefix = result_prefix
        self._max_source_bytes = max_source_bytes
        self._revalidate_seconds = revalidate_seconds
        self._clock = clock
        self._renders: SingleFlight[tuple[str, str, int], Served] = SingleFlight()
        self._sources: SingleFlight[tuple[str, int], StoredObject] = SingleFlight()
        self._recent_sources: TTLCache[tuple[str, int], StoredObject] = TTLCache(
            maxsize=max(1, source_cache_bytes),
            ttl=SOURCE_TTL,
            getsizeof=lambda s: max(1, len(s.body)),
        )
        self._heads: SingleFlight[str, ObjectMeta] = SingleFlight()
        self._generations: LRUCache[str, int] = LRUCache(maxsize=100_000)
        self._writes: dict[str, asyncio.Task[bool]] = {}
        self.metrics = metrics or Metrics()

    async def get(self, key: str, options: ResizeOptions) -> Served:
        cache_key = (key, options.canonical)
        cached = self._memory.get(cache_key)
        if cached is not None:
            fresh = await self._revalidated(key, cached)
            if fresh is not None:
                self.metrics.memory_hits.inc()
                if fresh is not cached:
                    self._memory.put(cache_key, fresh)
                return Served(fresh, "HIT-MEMORY")
            self._memory.discard(cache_key)
        self.metrics.memory_misses.inc()
        generation = self._generations.get(key, 0)
        served, _ = await self._renders.run(
            (key, options.canonical, generation), lambda: self._load(key, options, generation)
        )
        return served

    async def ensure_stored(self, key: str, options: ResizeOptions) -> bool:
        """Render and store a variant unless S3 has it already; True if rendered now.
        (Eager presets and `warm`: no memory, and the write is awaited.)"""
        stored_key = variant_key(self._result_prefix, key, options)
        try:
            await self._store.head(stored_key)
            return False
        except NotFound:
            pass
        source = await self._source(key, self._generations.get(key, 0))
        variant = await self._render(key, source, options)
        if not await self._write(stored_key, variant):
            raise ServiceUnavailable("storing the variant failed", retry_after=5)
        return True

    async def invalidate(self, key: str) -> None:
        """Forget every variant of `key`: memory, pending writes and S3."""
        self._generations[key] = self._generations.get(key, 0) + 1  # also retires cached bytes
        self._memory.discard_where(lambda cache_key: cache_key[0] == key)
        folder = variant_folder(self._result_prefix, key)
        pending = [task for name, task in self._writes.items() if name.startswith(folder)]
        await asyncio.gather(*pending, return_exceptions=True)
        stored = [
            name async for name in self._store.list_keys(folder) if _is_variant_of(name, folder)
        ]
        await self._store.delete_keys(stored)

    async def flush(self) -> None:
        """Wait for pending result-store writes (on shutdown, and in tests)."""
        while self._writes:
            await asyncio.gather(*list(self._writes.values()), return_exceptions=True)

    async def _load(self, key: str, options: ResizeOptions, generation: int) -> Served:
        cache_key = (key, options.canonical)
        timings: dict[str, float] = {}
        stored_key = variant_key(self._result_prefix, key, options)
        started = time.perf_counter()
        stored = await self._read_stored(key, stored_key)
        timings["store"] = time.perf_counter() - started
        if stored is not None:
            self._memory.put(cache_key, stored)
            return Served(stored, "HIT-STORE", timings)
        # A stale stored variant moves the generation on: render from fresh bytes.
        generation = self._generations.get(key, 0)
        started = time.perf_counter()
        source = await self._source(key, generation)
        timings["fetch"] = time.perf_counter() - started
        started = time.perf_counter()
        variant = await self._render(key, source, options)
        timings["render"] = time.perf_counter() - started
        if self._generations.get(key, 0) == generation:  # else the original was replaced meanwhile
            self._memory.put(cache_key, variant)
            self._write_later(stored_key, variant)
        return Served(variant, "MISS", timings)

    async def _source(self, key: str, generation: int) -> StoredObject:
        """The original's bytes: one GET shared by every render of it in flight or
        in the last few seconds (a burst of sizes arrives spread out in time)."""
        recent = self._recent_sources.get((key, generation))
        if recent is not None:
            return recent

        async def fetch() -> StoredObject:
            self.metrics.source_fetches.inc()
            source = await self._store.read(key, max_bytes=self._max_source_bytes)
            if 0 < len(source.body) <= self._recent_sources.maxsize // 4:
                self._recent_sources[(key, generation)] = source
            return source

        source, _ = await self._sources.run((key, generation), fetch)
        return source

    async def _render(self, key: str, source: StoredObject, options: ResizeOptions) -> Variant:
        self.metrics.renders.inc()
        started = time.perf_counter()
        source_id = f"{source.meta.etag}\n{len(source.body)}\n{key}"
        rendered = await self._renderer.render(source.body, options, source_id)
        self.metrics.render_seconds.observe(time.perf_counter() - started)
        return Variant.of(rendered, source, verified_at=self._clock())

    async def _revalidated(self, key: str, variant: Variant) -> Variant | None:
        """The variant, re-checked against its original if it is due; None if stale."""
        if self._clock() - variant.verified_at < self._revalidate_seconds:
            return variant
        try:
            meta, _ = await self._heads.run(key, lambda: self._store.head(key))
        except ServiceUnavailable:
            return variant  # S3 is down: what we have beats a 503
        except NotFound:
            self._memory.discard_where(lambda cache_key: cache_key[0] == key)
            raise
        if meta.etag != variant.source_etag:
            # Changed behind our back: recently fetched bytes are stale too.
            self._generations[key] = self._generations.get(key, 0) + 1
            return None
        return replace(variant, verified_at=self._clock())

    async def _read_stored(self, key: str, stored_key: str) -> Variant | None:
        try:
            stored = await self._store.read(stored_key, max_bytes=self._max_source_bytes)
        except NotFound:
            return None
        meta = stored.meta
        age = max(0.0, (datetime.now(UTC) - meta.last_modified).total_seconds())
        variant = Variant(
            body=stored.body,
            content_type=meta.content_type,
            etag=strong_etag(stored.body),
            last_modified=_parse_http_date(meta.metadata.get("source-last-modified")),
            source_etag=meta.metadata.get("source-etag", ""),
            verified_at=self._clock() - age,
        )
        return await self._revalidated(key, variant)

    def _write_later(self, stored_key: str, variant: Variant) -> None:
        task = asyncio.ensure_future(self._write(stored_key, variant))
        self._writes[stored_key] = task

        def forget(done: asyncio.Task[bool]) -> None:
            if self._writes.get(stored_key) is done:  # not a later write of the same key
                del self._writes[stored_key]

        task.add_done_callback(forget)

    async def _write(self, stored_key: str, variant: Variant) -> bool:
        """Store a variant; a failure is logged and counted, never raised."""
        metadata = {"source-etag": variant.source_etag}
        if variant.last_modified is not None:
            metadata["source-last-modified"] = http_date(variant.last_modified)
        try:
            await self._store.write(
                stored_key, variant.body, content_type=variant.content_type, metadata=metadata
            )
        except Exception:
            self.metrics.store_writes.labels("failed").inc()
            log.warning("storing a variant failed; it will be rendered again", exc_info=True)
            return False
        self.metrics.store_writes.labels("stored").inc()
        return True


def variant_folder(result_prefix: str, key: str) -> str:
    spread = hashlib.sha256(key.encode()).hexdigest()[:2]
    return f"{result_prefix}{spread}/{key}/"


def _is_variant_of(name: str, folder: str) -> bool:
    # Exactly `<folder>v<N>/<options>`: not the variants of a longer key that
    # happens to share the folder's text.
    rest = name[len(folder) :]
    version, slash, options = rest.partition("/")
    return bool(slash) and version[:1] == "v" and version[1:].isdigit() and "/" not in options


@functools.lru_cache(maxsize=4096)  # on every response: format each moment once
def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
