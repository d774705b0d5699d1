"""Every request that can be wrong: short errors, right statuses, nothing leaked."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from proxy.keys import METRICS, VARIANTS
from tests.conftest import (
    NO_READ,
    READ_ONLY,
    ClientFactory,
    keys_in,
    put,
    raw_status,
    use_credentials,
)
from tests.images import photo, solid

KEY = "original_images/cat.jpg"


@pytest.fixture
def cat(s3: Any, bucket: str) -> bytes:
    original = photo(600, 400)
    put(s3, bucket, KEY, original)
    return original


async def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    assert set(body) == {"error", "status", "request_id"}
    assert body["status"] == response.status
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("w=abc", "w"),
        ("w=0", "w"),
        ("w=99999", "w"),
        ("h=-5", "h"),
        ("fit=squash", "fit"),
        ("fm=bmp", "fm"),
        ("q=101", "q"),
        ("dpr=9", "dpr"),
        ("w=10&w=20", "w"),
        ("width=100", "width"),
    ],
)
async def test_bad_options_are_400_naming_the_parameter(
    proxy_client: ClientFactory, cat: bytes, query: str, param: str
) -> None:
    client = await proxy_client()

    response = await client.get(f"/{KEY}?{query}")

    assert response.status == 400
    assert (await error_of(response))["error"].startswith(f"{param}:")
    assert response.headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize(
    "path",
    [
        "/a/../b.jpg",
        "/a/%2e%2e/b.jpg",
        "/a//b.jpg",
        "/_variants/ab/cat.jpg/v1/w=1",
        "/a/%01b.jpg",
        "/" + "k" * 1100,
    ],
)
async def test_bad_keys_are_400(proxy_client: ClientFactory, path: str) -> None:
    client = await proxy_client()

    assert await raw_status(client, path) == 400


async def test_bad_key_error_names_the_key(proxy_client: ClientFactory) -> None:
    client = await proxy_client()

    response = await client.get("/a//b.jpg")

    assert (await error_of(response))["error"].startswith("key:")


async def test_missing_original_is_404_for_original_and_variant(
    proxy_client: ClientFactory, bucket: str
) -> None:
    client = await proxy_client()

    for path in ("/nope.jpg", "/nope.jpg?w=10"):
        response = await client.get(path)
        assert response.status == 404
        text = await response.text()
        assert bucket not in text
        assert "Traceback" not in text


async def test_access_denied_on_read_is_404_with_a_warning(
    proxy_client: ClientFactory,
    cat: bytes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_credentials(monkeypatch, NO_READ)
    client = await proxy_client()

    with caplog.at_level(logging.WARNING, logger="proxy.storage"):
        original = await client.get(f"/{KEY}")
        variant = await client.get(f"/{KEY}?w=10")

    assert (original.status, variant.status) == (404, 404)
    assert any("denied" in record.message for record in caplog.records)


async def test_unsupported_format_is_415(proxy_client: ClientFactory, s3: Any, bucket: str) -> None:
    put(s3, bucket, "doc.bmp", solid(20, 20, (1, 2, 3), fmt="BMP"), "image/bmp")
    put(s3, bucket, "notes.txt", b"hello, not an image", "text/plain")
    client = await proxy_client()

    for path in ("/doc.bmp?w=10", "/notes.txt?w=10", "/notes.txt", "/doc.bmp"):
        response = await client.get(path)
        assert response.status == 415, path
        await error_of(response)


async def test_truncated_original_is_422(proxy_client: ClientFactory, s3: Any, bucket: str) -> None:
    put(s3, bucket, "cut.jpg", photo(600, 400)[:2000])
    client = await proxy_client()

    response = await client.get("/cut.jpg?w=100")

    assert response.status == 422
    await error_of(response)


async def test_original_over_the_byte_limit_is_413(proxy_client: ClientFactory, cat: bytes) -> None:
    client = await proxy_client(max_source_bytes=len(cat) - 1)

    response = await client.get(f"/{KEY}?w=100")

    assert response.status == 413


async def test_original_over_the_pixel_limit_is_413(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(max_source_pixels=600 * 400 - 1)

    response = await client.get(f"/{KEY}?w=100")

    assert response.status == 413


async def test_unknown_method_is_405_in_the_same_shape(proxy_client: ClientFactory) -> None:
    client = await proxy_client()

    response = await client.post("/cat.jpg", data=b"x")

    assert response.status == 405
    await error_of(response)


async def test_request_id_is_accepted_and_echoed(proxy_client: ClientFactory) -> None:
    client = await proxy_client()

    response = await client.get("/nope.jpg", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"
    assert (await error_of(response))["request_id"] == "abc-123"


async def test_s3_unreachable_is_a_fast_503_with_retry_after(
    proxy_client: ClientFactory, unused_tcp_port: int
) -> None:
    client = await proxy_client(s3_endpoint_url=f"http://127.0.0.1:{unused_tcp_port}")

    for path in (f"/{KEY}", f"/{KEY}?w=100"):
        response = await client.get(path)
        assert response.status == 503
        assert response.headers["Cache-Control"] == "no-store"
        assert int(response.headers["Retry-After"]) >= 1
        assert "127.0.0.1" not in await response.text()


async def test_a_failed_result_store_write_does_not_fail_the_response(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_credentials(monkeypatch, READ_ONLY)
    client = await proxy_client()

    response = await client.get(f"/{KEY}?w=100&fm=png")
    await client.app[VARIANTS].flush()

    assert response.status == 200
    failed = client.app[METRICS].registry.get_sample_value(
        "proxy_result_store_writes_total", {"outcome": "failed"}
    )
    assert failed == 1
    assert keys_in(s3, bucket, "_variants/") == []
