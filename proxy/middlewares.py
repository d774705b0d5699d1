"""Request id, the one place errors become responses, and the access log."""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from . import signing
from .errors import Forbidden, ProxyError
from .keys import CONFIG

log = logging.getLogger(__name__)
access_log = logging.getLogger("proxy.access")

ORIGIN_SECRET_HEADER = "X-Origin-Secret"
REQUEST_ID = web.RequestKey("request_id", str)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(request: web.Request) -> str:
    return str(request.get(REQUEST_ID, "-"))


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Accept a sane X-Request-ID or make one; echo it; log one JSON line."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-ID"] = request_id
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status,
                    "cache": response.headers.get("X-Cache-Status", "-"),
                    "bytes": response.content_length or 0,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            )
        )
    return response


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
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The origin secret (CloudFront's custom header), then the URL signature."""
    if request.path in OPEN_PATHS:
        return await handler(request)
    config = request.app[CONFIG]
    if config.origin_secret is not None:
        given = request.headers.get(ORIGIN_SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), config.origin_secret.encode()):
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
