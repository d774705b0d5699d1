"""Readiness: a cached S3 canary, so a probe never costs an S3 call."""

from __future__ import annotations

import asyncio
import logging

from .errors import ProxyError
from .storage import ObjectStore

log = logging.getLogger(__name__)


class Readiness:
    """`ready` is true while the last canary (HEAD bucket) succeeded."""

    def __init__(self, store: ObjectStore, interval: float) -> None:
        self._store = store
        self._interval = interval
        self.ready = False
        self.reason = "starting"

    async def check_once(self) -> None:
        try:
            await self._store.check()
        except ProxyError as exc:
            if self.ready:
                log.warning("not ready: S3 canary failed (%s)", exc.message)
            self.ready, self.reason = False, "storage unreachable"
        else:
            if not self.ready:
                log.info("ready: S3 canary succeeded")
            self.ready, self.reason = True, "ready"

    async def run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)
