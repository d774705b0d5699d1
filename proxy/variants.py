"""Variants: where they are looked up, rendered and stored.

Lookup order: memory -> result store (S3) -> render. A render is single-flight
per variant, and the original's bytes are single-flight per key, so a burst of
identical misses costs one S3 GET and one render. The result-store write runs
in the background: the response never waits for it and never fails because of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from .cache import MemoryCache, SingleFlight
from .errors import NotFound, ServiceUnavailable
from .imaging import PIPELINE_VERSION, Rendered
from .options import ResizeOptions
from .renderer import Renderer
from .storage import ObjectStore, StoredObject

log = logging.getLogger(__name__)

CacheStatus = Literal["MISS", "HIT-MEMORY", "HIT-STORE"]


@dataclass(frozen=True)
class Variant:
    """A rendered image, ready to send."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime | None
    source_etag: str

    @property
    def size(self) -> int:
        return len(self.body)

    @classmethod
    def of(cls, rendered: Rendered, source: StoredObject) -> Variant:
        return cls(
            body=rendered.body,
            content_type=rendered.content_type,
            etag=strong_etag(rendered.body),
            last_modified=source.meta.last_modified,
            source_etag=source.meta.etag,
        )


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def variant_key(result_prefix: str, key: str, options: ResizeOptions) -> str:
    """Where a variant lives in S3: a short hash first spreads the load over key
    prefixes (S3 rates are per prefix); all variants of one original share a
    folder, so they can be listed and deleted together."""
    spread = hashlib.sha256(key.encode()).hexdigest()[:2]
    name = options.canonical.replace("&", ",")
    return f"{result_prefix}{spread}/{key}/v{PIPELINE_VERSION}/{name}"


@dataclass
class StoreStats:
    writes: int = 0
    write_failures: int = 0


class Variants:
    def __init__(
        self,
        store: ObjectStore,
        renderer: Renderer,
        memory: MemoryCache[tuple[str, str], Variant],
        *,
        result_prefix: str,
        max_source_bytes: int,
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._memory = memory
        self._result_prefix = result_prefix
        self._max_source_bytes = max_source_bytes
        self._renders: SingleFlight[tuple[str, str], tuple[Variant, CacheStatus]] = SingleFlight()
        self._sources: SingleFlight[str, StoredObject] = SingleFlight()
        self._writes: set[asyncio.Task[None]] = set()
        self.stats = StoreStats()

    async def get(self, key: str, options: ResizeOptions) -> tuple[Variant, CacheStatus]:
        cache_key = (key, options.canonical)
        cached = self._memory.get(cache_key)
        if cached is not None:
            return cached, "HIT-MEMORY"
        result, _ = await self._renders.run(cache_key, lambda: self._load(key, options))
        return result

    async def _load(self, key: str, options: ResizeOptions) -> tuple[Variant, CacheStatus]:
        cache_key = (key, options.canonical)
        stored_key = variant_key(self._result_prefix, key, options)
        stored = await self._read_stored(stored_key)
        if stored is not None:
            self._memory.put(cache_key, stored)
            return stored, "HIT-STORE"
        source, _ = await self._sources.run(
            key, lambda: self._store.read(key, max_bytes=self._max_source_bytes)
        )
        rendered = await self._renderer.render(source.body, options)
        variant = Variant.of(rendered, source)
        self._memory.put(cache_key, variant)
        self._write_later(stored_key, variant)
        return variant, "MISS"

    async def _read_stored(self, stored_key: str) -> Variant | None:
        try:
            stored = await self._store.read(stored_key, max_bytes=self._max_source_bytes)
        except NotFound:
            return None
        except ServiceUnavailable:
            return None  # the original's fetch will say whether S3 is really down
        meta = stored.meta
        modified = meta.metadata.get("source-last-modified")
        return Variant(
            body=stored.body,
            content_type=meta.content_type,
            etag=strong_etag(stored.body),
            last_modified=_parse_http_date(modified),
            source_etag=meta.metadata.get("source-etag", ""),
        )

    def _write_later(self, stored_key: str, variant: Variant) -> None:
        task = asyncio.ensure_future(self._write(stored_key, variant))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, stored_key: str, variant: Variant) -> None:
        metadata = {"source-etag": variant.source_etag}
        if variant.last_modified is not None:
            metadata["source-last-modified"] = http_date(variant.last_modified)
        try:
            await self._store.write(
                stored_key, variant.body, content_type=variant.content_type, metadata=metadata
            )
        except Exception:
            self.stats.write_failures += 1
            log.warning("storing a variant failed; it will be rendered again", exc_info=True)
        else:
            self.stats.writes += 1

    async def flush(self) -> None:
        """Wait for pending result-store writes (on shutdown, and in tests)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
