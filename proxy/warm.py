"""`python -m proxy warm`: pre-generate preset variants of existing originals.

Bounded concurrency, a progress line on stderr, resumable (a variant already in
the result store is skipped, so an interrupted run just continues), and a
summary at the end.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from .app import Services, every_negotiable_format
from .errors import BadRequest, ProxyError
from .options import ResizeOptions


@dataclass
class Tally:
    total: int = 0
    rendered: int = 0
    skipped: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.rendered + self.skipped + self.refused + self.failed

    def line(self) -> str:
        width = 30
        filled = width * self.done // self.total if self.total else width
        bar = "#" * filled + "." * (width - filled)
        return (
            f"warm [{bar}] {self.done}/{self.total}  rendered {self.rendered}, "
            f"already stored {self.skipped}, refused {self.refused}, failed {self.failed}"
        )


async def warm(
    services: Services,
    *,
    prefix: str,
    presets: Sequence[str],
    concurrency: int,
    out: TextIO = sys.stderr,
) -> Tally:
    variants = [
        options
        for name in presets
        for options in every_negotiable_format(services.urls.options_of_preset(name))
    ]
    keys = [key async for key in _originals(services, prefix)]
    tally = Tally(total=len(keys) * len(variants))
    gate = asyncio.Semaphore(concurrency)
    interactive = out.isatty()

    async def one(key: str, options: ResizeOptions) -> None:
        async with gate:
            try:
                rendered = await services.variants.ensure_stored(key, options)
            except ProxyError as exc:
                if 400 <= exc.status < 500:
                    tally.refused += 1  # not an image we can render: nothing to warm
                else:
                    tally.failed += 1
            else:
                if rendered:
                    tally.rendered += 1
                else:
                    tally.skipped += 1
            if interactive or tally.done == tally.total or tally.done % 50 == 0:
                print("\r" + tally.line(), end="" if interactive else "\n", file=out, flush=True)

    await asyncio.gather(*(one(key, options) for key in keys for options in variants))
    if interactive:
        print(file=out)
    print(
        f"warm: {len(keys)} originals x {len(variants)} variants: {tally.rendered} rendered, "
        f"{tally.skipped} already stored, {tally.refused} refused, {tally.failed} failed",
        file=out,
    )
    return tally


async def _originals(services: Services, prefix: str) -> AsyncIterator[str]:
    async for key in services.store.list_keys(prefix):
        try:
            yield services.urls.key("/" + key)  # the result prefix and odd keys are not originals
        except BadRequest:
            continue
