"""Uploads, deletes and invalidation through the proxy, against the real S3."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from proxy.keys import ORIGINALS, VARIANTS
from proxy.seaweed import SeaweedS3
from proxy.signing import sign
from tests.conftest import ClientFactory, keys_in, put
from tests.images import decode, photo, solid

SIGNING_KEY = "upload-signing-key-0123456789"
KEY = "original_images/dog.png"
RED = solid(300, 200, (255, 0, 0))
BLUE = solid(300, 200, (0, 0, 255))


def signed(target: str, method: str = "GET") -> str:
    parts = urlsplit(target)
    return sign(SIGNING_KEY, method, parts.path, parse_qsl(parts.query))


@pytest.fixture
async def client(proxy_client: ClientFactory) -> Any:
    return await proxy_client(signing_keys=(SIGNING_KEY,))


def pixel(body: bytes) -> tuple[int, ...]:
    return tuple(decode(body).convert("RGB").getpixel((5, 5)))  # type: ignore[arg-type]


async def test_upload_creates_then_replaces(client: Any, s3: Any, bucket: str) -> None:
    created = await client.put(signed(f"/{KEY}", "PUT"), data=RED)
    replaced = await client.put(signed(f"/{KEY}", "PUT"), data=BLUE)

    assert created.status == 201
    body = await created.json()
    assert body == {
        "key": KEY,
        "width": 300,
        "height": 200,
        "format": "png",
        "bytes": len(RED),
        "etag": body["etag"],
    }
    assert body["etag"].startswith('"')
    assert replaced.status == 200
    stored = s3.get_object(Bucket=bucket, Key=KEY)
    assert stored["ContentType"] == "image/png"
    assert stored["Body"].read() == BLUE


async def test_content_type_is_judged_from_the_bytes(client: Any, s3: Any, bucket: str) -> None:
    response = await client.put(
        signed("/x.jpg", "PUT"), data=photo(50, 50), headers={"Content-Type": "text/html"}
    )

    assert response.status == 201
    assert s3.head_object(Bucket=bucket, Key="x.jpg")["ContentType"] == "image/jpeg"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<html>not an image</html>", 415),
        (solid(20, 20, (1, 2, 3), fmt="BMP"), 415),
        (photo(400, 300)[:3000], 422),
        (b"", 422),
    ],
)
async def test_refused_uploads_store_nothing(
    client: Any, s3: Any, bucket: str, body: bytes, status: int
) -> None:
    response = await client.put(signed(f"/{KEY}", "PUT"), data=body)

    assert response.status == status
    assert keys_in(s3, bucket) == []


async def test_refused_upload_leaves_the_previous_original(
    client: Any, s3: Any, bucket: str
) -> None:
    put(s3, bucket, KEY, RED, "image/png")

    response = await client.put(signed(f"/{KEY}", "PUT"), data=photo(400, 300)[:3000])

    assert response.status == 422
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == RED


async def test_upload_over_the_pixel_limit_is_413(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    client = await proxy_client(signing_keys=(SIGNING_KEY,), max_source_pixels=10_000)

    response = await client.put(signed(f"/{KEY}", "PUT"), data=RED)

    assert response.status == 413
    assert keys_in(s3, bucket) == []


async def raw_exchange(
    port: int, head: bytes, body: bytes = b"", close_early: bool = False
) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    if close_early:
        writer.close()
        return b""
    answer = await asyncio.wait_for(reader.read(4096), timeout=5)
    writer.close()
    return answer


async def test_too_large_content_length_is_refused_before_the_body_is_sent(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    client = await proxy_client(signing_keys=(SIGNING_KEY,), max_source_bytes=1000)
    target = signed(f"/{KEY}", "PUT")
    head = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n".encode()

    answer = await raw_exchange(client.port, head)  # no body at all: it must not wait for one

    assert answer.startswith(b"HTTP/1.1 413")
    assert keys_in(s3, bucket) == []


async def test_an_interrupted_upload_stores_nothing_and_keeps_the_old_original(
    client: Any, s3: Any, bucket: str
) -> None:
    put(s3, bucket, KEY, RED, "image/png")
    target = signed(f"/{KEY}", "PUT")
    head = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BLUE)}\r\n\r\n".encode()

    await raw_exchange(client.port, head, BLUE[: len(BLUE) // 2], close_early=True)
    await asyncio.sleep(0.5)

    assert keys_in(s3, bucket) == [KEY]
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == RED


async def test_unsigned_writes_are_refused_and_store_nothing(
    client: Any, s3: Any, bucket: str
) -> None:
    assert (await client.put(f"/{KEY}", data=RED)).status == 403
    assert (await client.delete(f"/{KEY}")).status == 403
    assert keys_in(s3, bucket) == []


@pytest.mark.parametrize("path", ["/_variants/x.png", "/a//b.png"])
async def test_writes_to_reserved_or_bad_keys_are_400(
    client: Any, path: str, s3: Any, bucket: str
) -> None:
    response = await client.put(signed(path, "PUT"), data=RED)

    assert response.status == 400
    assert keys_in(s3, bucket) == []


async def test_a_replaced_original_is_reflected_at_once(client: Any, s3: Any, bucket: str) -> None:
    await client.put(signed(f"/{KEY}", "PUT"), data=RED)
    first = await client.get(signed(f"/{KEY}?w=30&fm=png"))
    await client.app[VARIANTS].flush()
    assert len(keys_in(s3, bucket, "_variants/")) == 1

    await client.put(signed(f"/{KEY}", "PUT"), data=BLUE)
    again = await client.get(signed(f"/{KEY}?w=30&fm=png"))

    assert pixel(await first.read()) == (255, 0, 0)
    assert again.headers["X-Cache-Status"] == "MISS"
    assert pixel(await again.read()) == (0, 0, 255)


async def test_delete_removes_the_original_and_every_variant(
    client: Any, s3: Any, bucket: str
) -> None:
    await client.put(signed(f"/{KEY}", "PUT"), data=RED)
    put(s3, bucket, "original_images/dog.png.bak", RED, "image/png")  # a neighbour, kept
    for query in ("w=30&fm=png", "w=40&fm=webp", "w=50&fm=jpg"):
        assert (await client.get(signed(f"/{KEY}?{query}"))).status == 200
    await client.app[VARIANTS].flush()
    assert len(keys_in(s3, bucket, "_variants/")) == 3

    deleted = await client.delete(signed(f"/{KEY}", "DELETE"))
    after = await client.get(signed(f"/{KEY}?w=30&fm=png"))
    again = await client.delete(signed(f"/{KEY}", "DELETE"))

    assert deleted.status == 204
    assert after.status == 404
    assert again.status == 404
    assert keys_in(s3, bucket) == ["original_images/dog.png.bak"]


async def test_an_original_changed_directly_in_s3_is_noticed_after_revalidate_seconds(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, KEY, RED, "image/png")
    eager_checker = await proxy_client(revalidate_seconds=0)
    lazy = await proxy_client(revalidate_seconds=3600)
    for client in (eager_checker, lazy):
        assert pixel(await (await client.get(f"/{KEY}?w=30&fm=png")).read()) == (255, 0, 0)

    put(s3, bucket, KEY, BLUE, "image/png")  # behind the proxy's back

    fresh = await eager_checker.get(f"/{KEY}?w=30&fm=png")
    cached = await lazy.get(f"/{KEY}?w=30&fm=png")
    assert pixel(await fresh.read()) == (0, 0, 255)
    assert fresh.headers["X-Cache-Status"] == "MISS"
    assert cached.headers["X-Cache-Status"] == "HIT-MEMORY"  # within its revalidation window


async def test_a_stale_stored_variant_is_not_served_after_a_restart(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, KEY, RED, "image/png")
    first = await proxy_client(revalidate_seconds=0)
    await first.get(f"/{KEY}?w=30&fm=png")
    await first.app[VARIANTS].flush()
    put(s3, bucket, KEY, BLUE, "image/png")

    restarted = await proxy_client(revalidate_seconds=0)
    response = await restarted.get(f"/{KEY}?w=30&fm=png")

    assert response.headers["X-Cache-Status"] == "MISS"
    assert pixel(await response.read()) == (0, 0, 255)


async def test_eager_presets_are_stored_after_an_upload(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    client = await proxy_client(
        signing_keys=(SIGNING_KEY,),
        presets={"thumb": "w=64&h=64&fit=cover"},
        eager_presets=("thumb",),
    )

    await client.put(signed(f"/{KEY}", "PUT"), data=RED)
    await client.app[ORIGINALS].flush()
    stored = keys_in(s3, bucket, "_variants/")
    webp = await client.get(signed(f"/{KEY}?preset=thumb"), headers={"Accept": "image/webp"})

    assert len(stored) == 3  # AVIF, WebP and the source family: whatever Accept says
    assert webp.headers["X-Cache-Status"] == "HIT-STORE"
    assert webp.headers["Content-Type"] == "image/webp"


def test_warm_pregenerates_presets_and_resumes(s3_server: SeaweedS3, s3: Any, bucket: str) -> None:
    for name in ("a.jpg", "b.jpg", "sub/c.jpg"):
        put(s3, bucket, f"originals/{name}", photo(300, 200))
    put(s3, bucket, "originals/readme.txt", b"not an image", "text/plain")
    env = {
        **os.environ,
        "PROXY_S3_BUCKET": bucket,
        "PROXY_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "PROXY_PRESETS": "thumb:w=50&h=50&fit=cover&fm=webp,card:w=120",
        "PROXY_RENDER_WORKERS": "2",
    }
    command = [sys.executable, "-m", "proxy", "warm", "--prefix", "originals/", "--preset", "thumb"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert first.returncode == 0, first.stderr
    assert "3 rendered" in first.stderr and "1 refused" in first.stderr
    assert "0 rendered, 3 already stored" in second.stderr
    assert len(keys_in(s3, bucket, "_variants/")) == 3


async def test_uploads_beyond_the_limit_are_503_and_store_nothing(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    client = await proxy_client(signing_keys=(SIGNING_KEY,), max_uploads=1)
    target = signed(f"/{KEY}", "PUT")
    head = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(RED)}\r\n\r\n".encode()
    # One upload is being received (its body has not all arrived)...
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head + RED[:100])
    await writer.drain()
    await asyncio.sleep(0.3)

    second = await client.put(signed("/other.png", "PUT"), data=BLUE)

    assert second.status == 503
    assert int(second.headers["Retry-After"]) >= 1
    writer.write(RED[100:])  # ...and then completes.
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 201")
    writer.close()
    assert keys_in(s3, bucket) == [KEY]
