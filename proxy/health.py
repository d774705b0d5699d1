"""Readiness: a cached S3 canary, so a probe never costs an S3 call."""

from __future__ import annotations

import asyncio
import logging

from .errors import ProxyError
from .lifecycle import Lifecycle
from .storage import ObjectStore

log = logging.getLogger(__name__)


class Readiness:
    """`ready` is true while the last canary (HEAD bucket) succeeded."""

    def __init__(self, store: ObjectStore, interval: float, lifecycle: Lifecycle) -> None:
        self._store = store
        self._interval = interval
        self._lifecycle = lifecycle
        self._canary_ok = False
        self._reason = "starting"

    @property
    def ready(self) -> bool:
        return self._canary_ok and not self._lifecycle.draining

    @property
    def reason(self) -> str:
        return "draining" if self._lifecycle.draining else self._reason

    async def check_once(self) -> None:
        try:
            await self._store.check()
        except ProxyError as exc:
            if self._canary_ok:
                log.warning("not ready: S3 canary failed (%s)", exc.message)
            self._canary_ok, self._reason = False, "storage unreachable"
        else:
            if not self._canary_ok:
                log.info("ready: S3 canary succeeded")
            self._canary_ok, self._reason = True, "ready"

    async def run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)
