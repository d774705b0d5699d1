"""A corpus of hostile originals served through the proxy: a 4xx (or a correct
image), never a 5xx other than an honest 503, never a hang."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from PIL import Image

from tests import hostile
from tests.conftest import ClientFactory, put
from tests.images import encode, photo, solid


def corpus() -> dict[str, bytes]:
    jpeg = photo(320, 240)
    png = solid(64, 48, (10, 200, 30, 128), mode="RGBA")
    gif = encode(Image.new("P", (64, 48), 3), "GIF")
    webp = encode(Image.new("RGB", (64, 48), (1, 2, 3)), "WEBP")
    avif = encode(Image.new("RGB", (64, 48), (1, 2, 3)), "AVIF")
    files: dict[str, bytes] = {
        "empty.jpg": b"",
        "random.jpg": hostile.random_bytes(),
        "text.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "bomb.png": hostile.png_header_claiming(100_000, 100_000),
        "bomb.gif": hostile.gif_claiming((65535, 65535), (65535, 65535)),
        "bomb.jpg": hostile.jpeg_claiming(jpeg, 65500, 65500),
        "bomb.webp": hostile.webp_canvas_claiming(16383, 16383),
        "zeroed.avif": hostile.avif_with_zeroed_pixels(avif),
    }
    for name, data in (("jpg", jpeg), ("png", png), ("gif", gif), ("webp", webp), ("avif", avif)):
        for number, cut in enumerate(hostile.truncations(data)):
            files[f"cut{number}.{name}"] = cut
        for number, bad in enumerate(hostile.mangled(data, 12, seed=len(name))):
            files[f"fuzz{number}.{name}"] = bad
    return files


async def test_hostile_originals_never_get_a_5xx_or_hang(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    files = corpus()
    for name, data in files.items():
        put(s3, bucket, f"hostile/{name}", data, "application/octet-stream")
    client = await proxy_client(render_timeout=10)
    gate = asyncio.Semaphore(4)

    async def fetch(name: str) -> tuple[str, int, float]:
        async with gate:
            started = time.monotonic()
            response = await client.get(f"/hostile/{name}?w=50&fm=png")
            await response.read()
            return name, response.status, time.monotonic() - started

    results = await asyncio.gather(*(fetch(name) for name in files))

    bad = [(name, status) for name, status, _ in results if status >= 500]
    assert bad == []
    assert max(seconds for _, _, seconds in results) < 10
    statuses = {name: status for name, status, _ in results}
    for bomb in ("bomb.png", "bomb.gif", "bomb.jpg"):
        assert statuses[bomb] == 413, bomb
    # libwebp itself refuses a canvas its image data does not fill: undecodable.
    assert statuses["bomb.webp"] in (413, 422)
    assert statuses["empty.jpg"] == 422
    assert statuses["random.jpg"] == 415
    assert statuses["text.png"] == 415
