"""The composition root: `open_services(config)` builds every long-lived object
once; `create_app(config)` serves them over HTTP.

Long-lived resources (the S3 client, the render processes, the readiness
canary) come from cleanup contexts with one `yield` each, so they are created
when the server starts and closed in reverse order when it stops. The `warm`
command uses the same `open_services` without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from . import handlers
from .admission import Admission
from .cache import MemoryCache
from .config import Config
from .health import Readiness
from .imaging import Limits, is_simd_build, pil_version
from .keys import (
    CONFIG,
    LIFECYCLE,
    MEMORY,
    METRICS,
    ORIGINALS,
    READINESS,
    RENDERER,
    STORE,
    URLS,
    VARIANTS,
)
from .lifecycle import Lifecycle
from .metrics import Metrics
from .middlewares import access_control, errors, request_context
from .options import ResizeOptions
from .originals import Originals
from .renderer import Renderer
from .storage import S3Store, open_s3_client
from .urls import UrlResolver
from .variants import Variant, Variants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    config: Config
    store: S3Store
    renderer: Renderer
    memory: MemoryCache[tuple[str, str], Variant]
    variants: Variants
    originals: Originals
    urls: UrlResolver


@contextlib.asynccontextmanager
async def open_services(config: Config, metrics: Metrics | None = None) -> AsyncIterator[Services]:
    log.info("PIL %s (Pillow-SIMD: %s)", pil_version(), "yes" if is_simd_build() else "NO")
    metrics = metrics or Metrics()
    async with open_s3_client(config) as client:
        store = S3Store(client, config.s3_bucket, metrics, deadline=config.s3_deadline)
        admission = Admission(
            slots=config.render_workers,
            max_queue=config.max_queue,
            budget_bytes=config.max_render_memory_mb * 1024 * 1024,
            wait_seconds=config.render_timeout,
            metrics=metrics,
        )
        metrics.render_queue.set_function(lambda: admission.waiting)
        metrics.render_memory.set_function(lambda: admission.used)
        renderer = Renderer(
            config.render_workers,
            config.render_timeout,
            Limits(max_pixels=config.max_source_pixels),
            admission,
        )
        await renderer.start()
        try:
            memory: MemoryCache[tuple[str, str], Variant] = MemoryCache(
                config.memory_cache_mb * 1024 * 1024
            )
            variants = Variants(
                store,
                renderer,
                memory,
                result_prefix=config.result_prefix,
                max_source_bytes=config.max_source_bytes,
                revalidate_seconds=config.revalidate_seconds,
                source_cache_bytes=config.source_cache_mb * 1024 * 1024,
                metrics=metrics,
            )
            metrics.memory_bytes.set_function(lambda: memory.bytes)
            urls = UrlResolver(
                result_prefix=config.result_prefix,
                max_dimension=config.max_dimension,
                presets=config.presets,
                only_presets=config.only_presets,
                templates=config.path_templates,
            )
            eager = [
                options
                for name in config.eager_presets
                for options in every_negotiable_format(urls.options_of_preset(name))
            ]
            originals = Originals(
                store, renderer, variants, eager=eager, max_uploads=config.max_uploads
            )
            yield Services(config, store, renderer, memory, variants, originals, urls)
            # Pending result-store writes land before the S3 client closes.
            await originals.flush()
            await variants.flush()
        finally:
            await renderer.close()


def every_negotiable_format(options: ResizeOptions) -> list[ResizeOptions]:
    """The variants browsers may ask for: one per `Accept` outcome unless `fm` is fixed."""
    if options.format is not None:
        return [options]
    return [options.with_format("avif"), options.with_format("webp"), options]


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[request_context, errors, access_control])
    app[CONFIG] = config
    app[METRICS] = metrics = Metrics()
    app[LIFECYCLE] = lifecycle = Lifecycle()
    metrics.inflight.set_function(lambda: lifecycle.inflight)
    app.cleanup_ctx.extend([services, readiness])
    app.on_response_prepare.append(_server_header)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/{key:.+}", handlers.image)
    app.router.add_put("/{key:.+}", handlers.upload)
    app.router.add_delete("/{key:.+}", handlers.delete)
    return app


async def services(app: web.Application) -> AsyncIterator[None]:
    async with open_services(app[CONFIG], app[METRICS]) as built:
        app[STORE] = built.store
        app[RENDERER] = built.renderer
        app[MEMORY] = built.memory
        app[VARIANTS] = built.variants
        app[ORIGINALS] = built.originals
        app[URLS] = built.urls
        yield


async def readiness(app: web.Application) -> AsyncIterator[None]:
    state = Readiness(app[STORE], app[CONFIG].ready_interval, app[LIFECYCLE])
    app[READINESS] = state
    task = asyncio.create_task(state.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp would announce its and Python's versions to every client.
    response.headers["Server"] = "resize-proxy"
