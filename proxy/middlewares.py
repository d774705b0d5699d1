"""Request id, the one place errors become responses, and the access log."""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from . import signing
from .errors import Forbidden, ProxyError
from .keys import CONFIG, LIFECYCLE, METRICS

log = logging.getLogger(__name__)
access_log = logging.getLogger("proxy.access")

ORIGIN_SECRET_HEADER = "X-Origin-Secret"
REQUEST_ID = web.RequestKey("request_id", str)
#: Per-step seconds of a variant request (store, fetch, render), for the access log.
TIMINGS = web.RequestKey("timings", dict[str, float])
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(request: web.Request) -> str:
    return str(request.get(REQUEST_ID, "-"))


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id (accepted if sane, else made; echoed), in-flight count for the
    drain, metrics, and one JSON access-log line."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _VALID_ID.fullmatch(incoming) else os.urandom(16).hex()
    request[REQUEST_ID] = request_id
    lifecycle = request.app[LIFECYCLE]
    started = time.perf_counter()
    lifecycle.started()
    try:
        response = await handler(request)
    finally:
        lifecycle.finished()
    response.headers["X-Request-ID"] = request_id
    seconds = time.perf_counter() - started
    cache_status = response.headers.get("X-Cache-Status", "-")
    request.app[METRICS].observe_request(
        _route_name(request), request.method, response.status, cache_status, seconds
    )
    if access_log.isEnabledFor(logging.INFO):
        line = {
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "cache": cache_status,
            "bytes": response.content_length or 0,
            "ms": round(seconds * 1000, 2),
        }
        for step, step_seconds in request.get(TIMINGS, {}).items():
            line[f"{step}_ms"] = round(step_seconds * 1000, 2)
        access_log.info(json.dumps(line))
    return response


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    handler = getattr(route, "handler", None)
    return getattr(handler, "__name__", "none") if route.resource is not None else "none"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error in one shape; a 500 only for bugs, logged with the request id."""
    try:
        return await handler(request)
    except ProxyError as exc:
        return error_response(request, exc.status, exc.message, exc.headers())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Cache-Control": "no-store"}
        if "Allow" in exc.headers:
            headers["Allow"] = exc.headers["Allow"]
        return error_response(request, exc.status, exc.reason.lower(), headers)
    except Exception:
        log.exception("unhandled error (request id %s)", request_id_of(request))
        return error_response(request, 500, "internal error", {"Cache-Control": "no-store"})


#: Paths a load balancer probes: never behind the origin secret or a signature.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The origin secret (CloudFront's custom header), then the URL signature."""
    if request.path in OPEN_PATHS:
        return await handler(request)
    config = request.app[CONFIG]
    if config.origin_secrets:
        given = request.headers.get(ORIGIN_SECRET_HEADER, "").encode()
        # Every secret is compared, whatever matched: timing says nothing.
        matches = [hmac.compare_digest(given, secret.encode()) for secret in config.origin_secrets]
        if not any(matches):
            raise Forbidden("origin secret required")
    if config.signing_keys:
        signing.verify(
            config.signing_keys,
            request.method,
            request.path,
            list(request.query.items()),
            now=time.time(),
        )
    return await handler(request)


def error_response(
    request: web.Request, status: int, message: str, headers: dict[str, str]
) -> web.Response:
    body = {"error": message, "status": status, "request_id": request_id_of(request)}
    return web.json_response(body, status=status, headers=headers)
