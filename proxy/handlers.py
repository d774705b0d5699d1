"""Thin handlers: each reads top to bottom; the work lives in the modules they call."""

from __future__ import annotations

import logging

from aiohttp import web

from .errors import UnsupportedMediaType
from .imaging import sniff_format
from .keys import CONFIG, READINESS, STORE, VARIANTS
from .options import CONTENT_TYPES, negotiate_format, parse_options
from .paths import parse_key
from .responses import not_modified, not_modified_response, original_headers, variant_response

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


async def image(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    key = parse_key(request.match_info["key"], result_prefix=config.result_prefix)
    options = parse_options(request.query.items(), max_dimension=config.max_dimension)
    if options is None:
        return await original(request, key)

    negotiated = options.format is None
    if negotiated:
        options = options.with_format(negotiate_format(request.headers.get("Accept")))
    variant, cache_status = await request.app[VARIANTS].get(key, options)
    return variant_response(
        request, variant, cache_status, max_age=config.cache_max_age, vary_accept=negotiated
    )


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
