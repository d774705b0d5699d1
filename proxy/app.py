"""The composition root: `create_app(config)` wires every long-lived object.

Long-lived resources (the S3 client, the render processes, the readiness
canary) come from cleanup contexts with one `yield` each, so they are created
when the server starts and closed in reverse order when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import handlers
from .cache import MemoryCache
from .config import Config
from .health import Readiness
from .imaging import Limits, is_simd_build, pil_version
from .keys import CONFIG, MEMORY, READINESS, RENDERER, STORE, VARIANTS
from .middlewares import errors, request_context
from .renderer import Renderer
from .storage import S3Store, open_s3_client
from .variants import Variants

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[request_context, errors], client_max_size=1024**2)
    app[CONFIG] = config
    app[MEMORY] = MemoryCache(config.memory_cache_mb * 1024 * 1024)
    app.cleanup_ctx.extend([s3_store, render_workers, variants, readiness])
    app.on_response_prepare.append(_server_header)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    app.router.add_get("/{key:.+}", handlers.image)
    return app


async def s3_store(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with open_s3_client(config) as client:
        app[STORE] = S3Store(client, config.s3_bucket)
        yield


async def render_workers(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    log.info("PIL %s (Pillow-SIMD: %s)", pil_version(), "yes" if is_simd_build() else "NO")
    renderer = Renderer(
        config.render_workers, config.render_timeout, Limits(max_pixels=config.max_source_pixels)
    )
    await renderer.start()
    app[RENDERER] = renderer
    try:
        yield
    finally:
        await renderer.close()


async def variants(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    service = Variants(
        app[STORE],
        app[RENDERER],
        app[MEMORY],
        result_prefix=config.result_prefix,
        max_source_bytes=config.max_source_bytes,
    )
    app[VARIANTS] = service
    yield
    await service.flush()  # pending result-store writes land before the S3 client closes


async def readiness(app: web.Application) -> AsyncIterator[None]:
    state = Readiness(app[STORE], app[CONFIG].ready_interval)
    app[READINESS] = state
    task = asyncio.create_task(state.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp would announce its and Python's versions to every client.
    response.headers["Server"] = "resize-proxy"
