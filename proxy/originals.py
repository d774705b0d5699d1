"""Writing originals: uploads and deletes, each followed by invalidation.

An upload is checked whole before anything is written: an allow-listed
format, within the byte and pixel limits, and fully decodable (in a render
worker, so a hostile file cannot hurt the server). Only then is it sent to S3
in one PutObject, which S3 applies atomically: a refused or interrupted upload
stores nothing and leaves the previous original as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .errors import NotFound, PayloadTooLarge, ServiceUnavailable
from .imaging import SourceInfo
from .options import CONTENT_TYPES, ResizeOptions
from .renderer import Renderer
from .storage import ObjectStore
from .variants import Variants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Uploaded:
    key: str
    created: bool
    info: SourceInfo
    size: int
    etag: str

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "width": self.info.width,
            "height": self.info.height,
            "format": self.info.format,
            "bytes": self.size,
            "etag": self.etag,
        }


async def read_limited(
    chunks: AsyncIterator[bytes], declared_length: int | None, max_bytes: int
) -> bytes:
    """The whole body, refusing (413) as soon as it is known to be too large:
    from `Content-Length` before reading a byte, else while reading."""
    if declared_length is not None and declared_length > max_bytes:
        raise PayloadTooLarge("upload is too large")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge("upload is too large")
        parts.append(chunk)
    return b"".join(parts)


class Originals:
    def __init__(
        self,
        store: ObjectStore,
        renderer: Renderer,
        variants: Variants,
        *,
        eager: Sequence[ResizeOptions] = (),
        max_uploads: int = 8,
    ) -> None:
        self._max_uploads = max_uploads
        self._uploads = 0
        self._store = store
        self._renderer = renderer
        self._variants = variants
        self._eager = tuple(eager)
        self._background: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def upload_slot(self) -> AsyncIterator[None]:
        """Bodies are held in memory until checked: bound how many at once (503 beyond)."""
        if self._uploads >= self._max_uploads:
            raise ServiceUnavailable("too many uploads at once", retry_after=2)
        self._uploads += 1
        try:
            yield
        finally:
            self._uploads -= 1

    async def upload(self, key: str, body: bytes) -> Uploaded:
        info = await self._renderer.inspect(body)
        created = not await self._exists(key)
        etag = await self._store.write(
            key, body, content_type=CONTENT_TYPES[info.format], metadata={}
        )
        await self._variants.invalidate(key)
        if self._eager:
            self._in_background(self._render_eager(key))
        return Uploaded(key, created, info, len(body), etag)

    async def delete(self, key: str) -> None:
        if not await self._exists(key):
            raise NotFound()
        await self._store.delete(key)
        await self._variants.invalidate(key)

    async def flush(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _exists(self, key: str) -> bool:
        try:
            await self._store.head(key)
        except NotFound:
            return False
        return True

    async def _render_eager(self, key: str) -> None:
        for options in self._eager:
            try:
                await self._variants.ensure_stored(key, options)
            except Exception:
                log.warning("eager variant of an upload failed", exc_info=True)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
