"""Render worker processes: results, errors and deadlines cross the process boundary."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from PIL import Image, ImageStat

from proxy.errors import (
    PayloadTooLarge,
    ProxyError,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from proxy.imaging import Limits
from proxy.options import ResizeOptions
from proxy.renderer import Renderer
from tests import hostile
from tests.images import decode, encode, solid

LIMITS = Limits(max_pixels=50_000_000)
#: No test may hang: a lost worker or reply would otherwise block forever.
GUARD = 30

MakeRenderer = Callable[..., Awaitable[Renderer]]


@pytest.fixture
async def make_renderer() -> AsyncIterator[MakeRenderer]:
    started: list[Renderer] = []

    async def make(workers: int = 1, deadline: float = 20, limits: Limits = LIMITS) -> Renderer:
        renderer = Renderer(workers=workers, timeout=deadline, limits=limits)
        await renderer.start()
        started.append(renderer)
        return renderer

    yield make
    for renderer in started:
        await renderer.close()


def assert_mean_colour(image: Image.Image, colour: tuple[int, ...], tolerance: int = 2) -> None:
    mean = ImageStat.Stat(image).mean
    assert all(abs(a - e) <= tolerance for a, e in zip(mean, colour, strict=True)), (mean, colour)


def small_png(width: int = 64, height: int = 48, colour: tuple[int, ...] = (200, 40, 10)) -> bytes:
    return solid(width, height, colour)


async def test_renders_an_image_through_a_worker(make_renderer: MakeRenderer) -> None:
    renderer = await make_renderer()

    async with asyncio.timeout(GUARD):
        rendered = await renderer.render(small_png(), ResizeOptions(width=32, format="png"))

    image = decode(rendered.body)
    assert (rendered.format, rendered.width, rendered.height) == ("png", 32, 24)
    assert image.size == (32, 24)
    assert_mean_colour(image, (200, 40, 10))


async def test_the_worker_is_a_different_process(make_renderer: MakeRenderer) -> None:
    renderer = await make_renderer()

    pids = {worker.process.pid for worker in renderer._all}

    assert len(pids) == 1
    assert os.getpid() not in pids


@pytest.mark.parametrize(
    ("data", "limits", "error", "status"),
    [
        pytest.param(b"", LIMITS, Unprocessable, 422, id="empty"),
        pytest.param(hostile.random_bytes(), LIMITS, UnsupportedMediaType, 415, id="random"),
        pytest.param(small_png(), Limits(max_pixels=100), PayloadTooLarge, 413, id="too big"),
    ],
)
async def test_a_proxy_error_in_the_worker_arrives_as_the_same_class_and_status(
    make_renderer: MakeRenderer,
    data: bytes,
    limits: Limits,
    error: type[ProxyError],
    status: int,
) -> None:
    renderer = await make_renderer(limits=limits)

    with pytest.raises(ProxyError) as caught:
        async with asyncio.timeout(GUARD):
            await renderer.render(data, ResizeOptions(width=10))

    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.message  # the public message survives the trip
    # The worker survived the error and serves the next render (8x6 is within every limit).
    async with asyncio.timeout(GUARD):
        rendered = await renderer.render(small_png(8, 6), ResizeOptions(width=4, format="png"))
    assert (rendered.width, rendered.height) == (4, 3)


@functools.cache
def slow_source() -> bytes:
    """A 6000x4000 PNG; enlarging it to an 8000-wide AVIF takes about 3 s: far past 0.5 s."""
    return encode(Image.new("RGB", (6000, 4000), (10, 120, 200)), "PNG", compress_level=1)


SLOW = ResizeOptions(width=8000, format="avif", enlarge=True)


async def test_a_render_past_its_deadline_is_503_and_the_worker_is_replaced(
    make_renderer: MakeRenderer,
) -> None:
    renderer = await make_renderer(workers=1, deadline=0.5)
    before = {worker.process.pid for worker in renderer._all}

    with pytest.raises(ServiceUnavailable) as caught:
        async with asyncio.timeout(GUARD):
            await renderer.render(slow_source(), SLOW)

    assert caught.value.status == 503
    assert caught.value.retry_after > 0
    # With one worker, this render can only succeed on a fresh one: the old one is
    # still busy (or dead), and a reused pipe would answer with the slow render's result.
    async with asyncio.timeout(GUARD):
        rendered = await renderer.render(small_png(), ResizeOptions(width=16, format="png"))
    assert (rendered.format, rendered.width, rendered.height) == ("png", 16, 12)
    after = {worker.process.pid for worker in renderer._all}
    assert len(after) == 1
    assert after.isdisjoint(before)


async def test_a_worker_that_dies_mid_render_is_a_422_and_is_replaced(
    make_renderer: MakeRenderer,
) -> None:
    renderer = await make_renderer(workers=1, deadline=20)
    (pid,) = {worker.process.pid for worker in renderer._all}
    render = asyncio.ensure_future(renderer.render(slow_source(), SLOW))
    await asyncio.sleep(0.1)

    os.kill(pid, signal.SIGKILL)  # what a decoder segfault looks like from outside
    with pytest.raises(Unprocessable):
        async with asyncio.timeout(GUARD):
            await render

    async with asyncio.timeout(GUARD):
        rendered = await renderer.render(small_png(8, 6), ResizeOptions(width=4, format="png"))
    assert (rendered.width, rendered.height) == (4, 3)
    assert pid not in {worker.process.pid for worker in renderer._all}


async def test_a_missed_deadline_leaves_no_unretrieved_exception_behind(
    make_renderer: MakeRenderer,
) -> None:
    unhandled: list[str] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda _loop, context: unhandled.append(context["message"])
    )
    renderer = await make_renderer(workers=1, deadline=0.5)
    with pytest.raises(ServiceUnavailable):
        async with asyncio.timeout(GUARD):
            await renderer.render(slow_source(), SLOW)

    async with asyncio.timeout(GUARD):  # by now the old helper thread has long finished
        await renderer.render(small_png(8, 6), ResizeOptions(width=4, format="png"))
    await asyncio.sleep(0.05)
    gc.collect()

    assert unhandled == []


async def test_a_cancelled_render_does_not_leak_its_result_into_the_next_one(
    make_renderer: MakeRenderer,
) -> None:
    renderer = await make_renderer(workers=1, deadline=20)
    slow = asyncio.ensure_future(
        renderer.render(solid(4000, 3000, (0, 0, 0)), ResizeOptions(width=3999, format="png"))
    )
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow

    async with asyncio.timeout(GUARD):
        rendered = await renderer.render(small_png(), ResizeOptions(width=16, format="png"))

    assert (rendered.width, rendered.height) == (16, 12)


async def test_concurrent_renders_on_two_workers_all_complete_with_their_own_results(
    make_renderer: MakeRenderer,
) -> None:
    renderer = await make_renderer(workers=2)
    widths = [8, 16, 24, 32, 40, 48, 56, 64]
    colours = [(w * 3, 255 - w * 3, w) for w in widths]

    async with asyncio.timeout(GUARD):
        results = await asyncio.gather(
            *(
                renderer.render(solid(128, 64, colour), ResizeOptions(width=width, format="png"))
                for width, colour in zip(widths, colours, strict=True)
            )
        )

    assert [(r.width, r.height) for r in results] == [(w, w // 2) for w in widths]
    for rendered, colour in zip(results, colours, strict=True):
        assert_mean_colour(decode(rendered.body), colour)


async def test_a_worker_keeps_an_original_so_it_crosses_the_pipe_once(
    make_renderer: MakeRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy import renderer as renderer_module

    sent: list[bytes | None] = []
    original_call = renderer_module._Worker.call

    def spy(worker: Any, request: Any) -> Any:
        sent.append(request[1][1])  # the bytes sent with the request, None if only the id
        return original_call(worker, request)

    monkeypatch.setattr(renderer_module._Worker, "call", spy)
    renderer = await make_renderer(workers=1)
    green, red = small_png(colour=(10, 200, 40)), small_png(colour=(200, 10, 40))

    async with asyncio.timeout(GUARD):
        first = await renderer.render(green, ResizeOptions(width=32, format="png"), "green")
        second = await renderer.render(green, ResizeOptions(width=16, format="png"), "green")
        other = await renderer.render(red, ResizeOptions(width=16, format="png"), "red")

    assert sent == [green, None, red]
    assert decode(first.body).size == (32, 24)
    assert_mean_colour(decode(second.body), (10, 200, 40))
    assert_mean_colour(decode(other.body), (200, 10, 40))
