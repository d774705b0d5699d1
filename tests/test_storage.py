"""S3Store against the real, private SeaweedFS."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from proxy.config import Config
from proxy.errors import NotFound, PayloadTooLarge, ServiceUnavailable
from proxy.seaweed import SeaweedS3
from proxy.storage import S3Store, open_s3_client
from tests.conftest import NO_READ, put, use_credentials


@pytest.fixture
async def store(config: Config) -> AsyncIterator[S3Store]:
    async with open_s3_client(config) as client:
        yield S3Store(client, config.s3_bucket)


def test_anonymous_requests_to_the_bucket_are_refused(
    s3_server: SeaweedS3, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "private.jpg", b"\xff\xd8\xff secret")

    for url in (f"/{bucket}/private.jpg", f"/{bucket}", "/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(s3_server.endpoint_url + url, timeout=5)
        assert refused.value.code == 403


async def test_signed_reads_succeed(store: S3Store, s3: Any, bucket: str) -> None:
    put(s3, bucket, "private.jpg", b"\xff\xd8\xff secret", "image/jpeg")

    stored = await store.read("private.jpg", max_bytes=1000)

    assert stored.body == b"\xff\xd8\xff secret"
    assert stored.meta.content_type == "image/jpeg"
    assert stored.meta.content_length == len(stored.body)
    assert stored.meta.etag.startswith('"')


async def test_write_then_head_keeps_type_and_metadata(store: S3Store) -> None:
    await store.write("a/b.png", b"png!", content_type="image/png", metadata={"source-etag": "x"})

    meta = await store.head("a/b.png")

    assert meta.content_type == "image/png"
    assert meta.content_length == 4
    assert meta.metadata["source-etag"] == "x"


async def test_missing_key_is_not_found(store: S3Store) -> None:
    with pytest.raises(NotFound):
        await store.read("missing.jpg", max_bytes=10)
    with pytest.raises(NotFound):
        await store.head("missing.jpg")


async def test_an_object_over_the_limit_is_refused_before_its_body_is_read(
    store: S3Store, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "big.jpg", b"x" * 10_000)

    with pytest.raises(PayloadTooLarge):
        await store.read("big.jpg", max_bytes=9_999)


async def test_access_denied_is_not_found(
    config: Config, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3, bucket, "private.jpg", b"\xff\xd8\xff")
    use_credentials(monkeypatch, NO_READ)

    async with open_s3_client(config) as client:
        with pytest.raises(NotFound):
            await S3Store(client, bucket).read("private.jpg", max_bytes=100)


async def test_unreachable_s3_is_service_unavailable(config: Config, unused_tcp_port: int) -> None:
    down = replace(config, s3_endpoint_url=f"http://127.0.0.1:{unused_tcp_port}")

    async with open_s3_client(down) as client:
        store = S3Store(client, down.s3_bucket)
        with pytest.raises(ServiceUnavailable):
            await store.read("x.jpg", max_bytes=10)
        with pytest.raises(ServiceUnavailable):
            await store.check()


async def test_check_passes_for_the_bucket(store: S3Store) -> None:
    await store.check()
