"""Image responses: the headers a CDN and a browser need, and conditional requests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from aiohttp import web

from .storage import ObjectMeta
from .variants import CacheStatus, Variant, http_date


def image_headers(
    *,
    content_type: str,
    etag: str,
    last_modified: datetime | None,
    max_age: int,
    cache_status: CacheStatus,
    vary_accept: bool,
) -> dict[str, str]:
    headers = {
        "Content-Type": content_type,
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "X-Cache-Status": cache_status,
        "X-Content-Type-Options": "nosniff",
    }
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    if vary_accept:
        headers["Vary"] = "Accept"
    return headers


def variant_response(
    request: web.Request,
    variant: Variant,
    cache_status: CacheStatus,
    *,
    max_age: int,
    vary_accept: bool,
) -> web.Response:
    headers = image_headers(
        content_type=variant.content_type,
        etag=variant.etag,
        last_modified=variant.last_modified,
        max_age=max_age,
        cache_status=cache_status,
        vary_accept=vary_accept,
    )
    if not_modified(request.headers, variant.etag, variant.last_modified):
        return not_modified_response(headers)
    return web.Response(body=variant.body, headers=headers)


def original_headers(meta: ObjectMeta, *, max_age: int) -> dict[str, str]:
    headers = image_headers(
        content_type=meta.content_type,
        etag=meta.etag,
        last_modified=meta.last_modified,
        max_age=max_age,
        cache_status="MISS",
        vary_accept=False,
    )
    headers["Content-Length"] = str(meta.content_length)
    return headers


def not_modified_response(headers: Mapping[str, str]) -> web.Response:
    kept = {k: v for k, v in headers.items() if k not in ("Content-Type", "Content-Length")}
    return web.Response(status=304, headers=kept)


def not_modified(
    request_headers: Mapping[str, str], etag: str, last_modified: datetime | None
) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since only counts without it."""
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        wanted = _opaque(etag)
        return any(_opaque(tag) == wanted for tag in if_none_match.split(","))
    since = request_headers.get("If-Modified-Since")
    if since and last_modified is not None:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= moment
    return False


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def server_timing(timings: dict[str, float]) -> str:
    """`Server-Timing: store;dur=1.2, fetch;dur=30.5, render;dur=80.1` (milliseconds)."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items())
