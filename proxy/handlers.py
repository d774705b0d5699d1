"""Thin handlers: each reads top to bottom; the work lives in the modules they call."""

from __future__ import annotations

import logging

from aiohttp import web

from .errors import BadOption, UnsupportedMediaType
from .imaging import sniff_format
from .keys import CONFIG, METRICS, ORIGINALS, READINESS, STORE, URLS, VARIANTS
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .middlewares import TIMINGS
from .options import CONTENT_TYPES
from .originals import read_limited
from .responses import (
    not_modified,
    not_modified_response,
    original_headers,
    server_timing,
    variant_response,
)
from .signing import EXPIRES_PARAM, SIGNATURE_PARAM

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    readiness = request.app[READINESS]
    return web.json_response(
        {"status": readiness.reason},
        status=200 if readiness.ready else 503,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render(),
        headers={"Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store"},
    )


async def image(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    key, options, negotiated = request.app[URLS].target(
        request.raw_path,
        request.headers.get("Accept"),
        lambda: (request.path, list(request.query.items())),
    )
    if options is None:
        return await original(request, key)

    served = await request.app[VARIANTS].get(key, options)
    response = variant_response(
        request,
        served.variant,
        served.cache_status,
        max_age=config.cache_max_age,
        vary_accept=negotiated,
    )
    if served.timings:
        response.headers["Server-Timing"] = server_timing(served.timings)
    request[TIMINGS] = served.timings
    return response


async def original(request: web.Request, key: str) -> web.StreamResponse:
    """Stream the original as stored, if it is an image we serve."""
    config = request.app[CONFIG]
    stream = await request.app[STORE].open(key)
    chunks = stream.chunks()
    first = b""
    async for chunk in chunks:
        first += chunk
        if len(first) >= 32:
            break
    detected = sniff_format(first)
    if detected is None:
        await chunks.aclose()
        raise UnsupportedMediaType("not an image format we serve")

    headers = original_headers(stream.meta, max_age=config.cache_max_age)
    if not stream.meta.content_type.startswith("image/"):
        headers["Content-Type"] = CONTENT_TYPES[detected]
    if not_modified(request.headers, stream.meta.etag, stream.meta.last_modified):
        await chunks.aclose()
        return not_modified_response(headers)

    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    if request.method == "HEAD":
        await chunks.aclose()
        return response
    try:
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except Exception as exc:
        # Headers are sent: the only honest signal left is a cut connection.
        log.warning("original stream broke off: %s", type(exc).__name__)
        response.force_close()
        await chunks.aclose()
        return response
    await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    """PUT /{key}: store a new original or replace one (201 or 200, with what was stored)."""
    key = _write_target(request)
    originals = request.app[ORIGINALS]
    async with originals.upload_slot():
        body = await read_limited(
            request.content.iter_chunked(256 * 1024),
            request.content_length,
            request.app[CONFIG].max_source_bytes,
        )
        uploaded = await originals.upload(key, body)
    return web.json_response(
        uploaded.as_json(),
        status=201 if uploaded.created else 200,
        headers={"Cache-Control": "no-store"},
    )


async def delete(request: web.Request) -> web.Response:
    """DELETE /{key}: remove the original and every stored variant of it."""
    await request.app[ORIGINALS].delete(_write_target(request))
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


def _write_target(request: web.Request) -> str:
    extra = [name for name in request.query if name not in (SIGNATURE_PARAM, EXPIRES_PARAM)]
    if extra:
        raise BadOption(extra[0], "not accepted on writes")
    return request.app[URLS].key(request.path)
