"""Serving originals and variants from a real S3, with the three cache statuses."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.conftest import ClientFactory, keys_in, put
from tests.images import decode, photo


async def test_original_is_served_byte_for_byte(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    original = photo(640, 480)
    put(s3, bucket, "original_images/cat.jpg", original)
    client = await proxy_client()

    response = await client.get("/original_images/cat.jpg")

    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    body = await response.read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(original).digest()


async def test_variant_miss_then_memory_hit(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "original_images/cat.jpg", photo(1200, 800))
    client = await proxy_client()

    first = await client.get("/original_images/cat.jpg?w=400&fm=webp")
    second = await client.get("/original_images/cat.jpg?fm=webp&w=400")

    assert first.status == 200
    assert first.headers["X-Cache-Status"] == "MISS"
    assert first.headers["Content-Type"] == "image/webp"
    assert decode(await first.read()).size == (400, 267)
    assert second.headers["X-Cache-Status"] == "HIT-MEMORY"
    await client.app[__import__("proxy.keys").keys.VARIANTS].flush()
    assert len(keys_in(s3, bucket, "_variants/")) == 1
