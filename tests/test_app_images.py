"""Serving originals and variants from a real S3: sizes, formats, cache statuses, HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.keys import VARIANTS
from tests.conftest import ClientFactory, keys_in, put
from tests.images import decode, photo, solid

KEY = "original_images/cat.jpg"


@pytest.fixture
def cat(s3: Any, bucket: str) -> bytes:
    original = photo(1200, 800)
    put(s3, bucket, KEY, original)
    return original


async def test_original_is_streamed_byte_for_byte_with_its_content_type(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client()

    response = await client.get(f"/{KEY}")

    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(cat))
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    assert await response.read() == cat


async def test_head_of_an_original_has_headers_and_no_body(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client()

    response = await client.head(f"/{KEY}")

    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(cat))
    assert await response.read() == b""


async def test_original_with_a_generic_content_type_is_served_as_what_it_is(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "logo.png", solid(10, 10, (1, 2, 3)), content_type="binary/octet-stream")
    client = await proxy_client()

    response = await client.get("/logo.png")

    assert response.headers["Content-Type"] == "image/png"


async def test_variant_is_rendered_then_served_from_memory(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client()

    first = await client.get(f"/{KEY}?w=400&fm=webp")
    second = await client.get(f"/{KEY}?fm=webp&w=400")

    assert first.status == 200
    assert first.headers["X-Cache-Status"] == "MISS"
    assert first.headers["Content-Type"] == "image/webp"
    assert decode(await first.read()).size == (400, 267)
    assert second.headers["X-Cache-Status"] == "HIT-MEMORY"
    assert await second.read() == await first.read()


async def test_variant_is_stored_under_the_result_prefix_and_read_back_after_restart(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str
) -> None:
    first_app = await proxy_client()
    rendered = await first_app.get(f"/{KEY}?w=300&h=300&fit=cover&fm=png")
    body = await rendered.read()
    await first_app.app[VARIANTS].flush()

    stored = keys_in(s3, bucket, "_variants/")
    assert len(stored) == 1
    assert f"/{KEY}/" in stored[0]
    assert keys_in(s3, bucket, "original_images/") == [KEY]

    restarted = await proxy_client()
    again = await restarted.get(f"/{KEY}?fm=png&fit=cover&h=300&w=300")
    assert again.headers["X-Cache-Status"] == "HIT-STORE"
    assert again.headers["ETag"] == rendered.headers["ETag"]
    assert again.headers["Last-Modified"] == rendered.headers["Last-Modified"]
    assert await again.read() == body
    third = await restarted.get(f"/{KEY}?w=300&h=300&fit=cover&fm=png")
    assert third.headers["X-Cache-Status"] == "HIT-MEMORY"


async def test_equivalent_urls_are_one_variant(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str
) -> None:
    client = await proxy_client()
    urls = [f"/{KEY}?w=400&fm=jpg", f"/{KEY}?fm=jpeg&w=400", f"/{KEY}?w=200&dpr=2&fm=jpg"]

    statuses = [(await client.get(url)).headers["X-Cache-Status"] for url in urls]
    await client.app[VARIANTS].flush()

    assert statuses == ["MISS", "HIT-MEMORY", "HIT-MEMORY"]
    assert len(keys_in(s3, bucket, "_variants/")) == 1


@pytest.mark.parametrize(
    ("query", "size"),
    [
        ("w=400", (400, 267)),
        ("h=200", (300, 200)),
        ("w=400&h=400", (400, 267)),
        ("w=400&h=400&fit=contain", (400, 267)),
        ("w=400&h=400&fit=cover", (400, 400)),
        ("w=400&h=100&fit=fill", (400, 100)),
        ("w=400&h=400&fit=pad", (400, 400)),
        ("w=2400", (1200, 800)),  # no upscaling unless asked
        ("w=2400&enlarge=1", (2400, 1600)),
        ("w=200&dpr=2", (400, 267)),
        ("fm=png", (1200, 800)),
    ],
)
async def test_variant_sizes(
    proxy_client: ClientFactory, cat: bytes, query: str, size: tuple[int, int]
) -> None:
    client = await proxy_client()

    response = await client.get(f"/{KEY}?{query}")

    assert response.status == 200, await response.text()
    assert decode(await response.read()).size == size


async def test_variant_headers_let_a_cdn_cache_it(proxy_client: ClientFactory, cat: bytes) -> None:
    client = await proxy_client(cache_max_age=3600)

    response = await client.get(f"/{KEY}?w=100&fm=jpg")

    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    assert "Vary" not in response.headers  # fm is explicit: one representation
    assert response.headers["X-Request-ID"]


async def test_format_is_negotiated_from_accept_and_varies_on_it(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client()

    avif = await client.get(f"/{KEY}?w=100", headers={"Accept": "image/avif,image/webp,*/*"})
    webp = await client.get(f"/{KEY}?w=100", headers={"Accept": "image/webp,*/*"})
    plain = await client.get(f"/{KEY}?w=100", headers={"Accept": "*/*"})

    assert avif.headers["Content-Type"] == "image/avif"
    assert webp.headers["Content-Type"] == "image/webp"
    assert plain.headers["Content-Type"] == "image/jpeg"
    for response in (avif, webp, plain):
        assert response.headers["Vary"] == "Accept"
        assert response.headers["X-Cache-Status"] == "MISS"  # three different variants


async def test_transparent_png_without_fm_stays_png(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "dot.png", solid(50, 50, (255, 0, 0, 128), mode="RGBA"), "image/png")
    client = await proxy_client()

    response = await client.get("/dot.png?w=10")

    assert response.headers["Content-Type"] == "image/png"
    assert decode(await response.read()).mode == "RGBA"


async def test_if_none_match_gives_304_without_a_body(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client()
    first = await client.get(f"/{KEY}?w=100&fm=webp")
    etag = first.headers["ETag"]

    for method in ("GET", "HEAD"):
        again = await client.request(
            method, f"/{KEY}?w=100&fm=webp", headers={"If-None-Match": etag}
        )
        assert again.status == 304
        assert again.headers["ETag"] == etag
        assert await again.read() == b""
    original = await client.get(f"/{KEY}")
    revisit = await client.get(f"/{KEY}", headers={"If-None-Match": original.headers["ETag"]})
    assert revisit.status == 304


async def test_head_of_a_variant_has_its_headers(proxy_client: ClientFactory, cat: bytes) -> None:
    client = await proxy_client()

    head = await client.head(f"/{KEY}?w=100&fm=png")
    get = await client.get(f"/{KEY}?w=100&fm=png")

    assert head.status == 200
    assert await head.read() == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


async def test_outputs_carry_no_exif(proxy_client: ClientFactory, s3: Any, bucket: str) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    put(s3, bucket, "gps.jpg", photo(400, 300, exif=exif.tobytes()))
    client = await proxy_client()

    for fm in ("jpg", "webp", "png"):
        body = await (await client.get(f"/gps.jpg?w=100&fm={fm}")).read()
        assert b"SecretCam" not in body
        assert not decode(body).getexif()
