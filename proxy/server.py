"""Running the app: plain HTTP or TLS 1.2+, SIGHUP certificate reload, graceful drain.

On SIGTERM (or SIGINT) the server keeps its port open while it drains:
`/readyz` answers 503 at once, so load balancers stop sending traffic (for
`PROXY_DRAIN_DELAY` seconds it goes on serving new requests too); requests in
flight finish (up to `PROXY_SHUTDOWN_TIMEOUT`); then the listener closes,
pending result-store writes are flushed by the cleanup contexts, and the
process exits 0. On SIGHUP the certificate and key are read again: new
handshakes use them, open connections are not touched.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import accesslog
from .config import Config
from .keys import LIFECYCLE

log = logging.getLogger(__name__)

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are all fine).
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert, key)
    return context


async def serve(
    app: web.Application,
    config: Config,
    *,
    on_started: Callable[[], Awaitable[None]] | None = None,
) -> None:
    context = (
        tls_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    )
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=config.shutdown_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=context, backlog=1024)
    await site.start()
    log.info("listening on %s://%s:%s", "https" if context else "http", config.host, config.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if context is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload, context, config)
    if on_started is not None:
        await on_started()
    flusher = asyncio.create_task(_flush_access_log_every(0.1))
    try:
        await stop.wait()
        lifecycle = app[LIFECYCLE]
        lifecycle.draining = True
        log.info("draining: %d requests in flight", lifecycle.inflight)
        await asyncio.sleep(config.drain_delay)  # still serving; load balancers see 503
        if not await lifecycle.wait_idle(config.shutdown_timeout):
            log.warning("shutdown timeout: %d requests cut off", lifecycle.inflight)
    finally:
        await runner.cleanup()  # closes the port, then the cleanup contexts flush and close
        flusher.cancel()
        log.info("stopped")
        _flush_access_log()


async def _flush_access_log_every(seconds: float) -> None:
    """Access-log lines are batched; an idle server still writes them out."""
    while True:
        await asyncio.sleep(seconds)
        _flush_access_log()


def _flush_access_log() -> None:
    for handler in logging.getLogger(accesslog.LOGGER).handlers:
        if isinstance(handler, accesslog.BatchedHandler):
            handler.flush_now()


def _reload(context: ssl.SSLContext, config: Config) -> None:
    assert config.tls_cert and config.tls_key
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        log.error("SIGHUP: certificate not reloaded, keeping the old one: %s", exc)
    else:
        log.info("SIGHUP: certificate reloaded")
