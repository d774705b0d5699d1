"""Liveness and readiness, as load balancers probe them."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ClientFactory


async def wait_for_status(client: Any, path: str, status: int, seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.05)):
        if (await client.get(path)).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never answered {status}")


async def test_healthz_answers_without_s3(
    proxy_client: ClientFactory, unused_tcp_port: int
) -> None:
    client = await proxy_client(s3_endpoint_url=f"http://127.0.0.1:{unused_tcp_port}")

    for method in ("GET", "HEAD"):
        response = await client.request(method, "/healthz")
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"


async def test_readyz_is_200_when_s3_answers(proxy_client: ClientFactory) -> None:
    client = await proxy_client()

    await wait_for_status(client, "/readyz", 200)
    assert (await client.head("/readyz")).status == 200


async def test_readyz_is_503_when_s3_is_unreachable(
    proxy_client: ClientFactory, unused_tcp_port: int
) -> None:
    client = await proxy_client(s3_endpoint_url=f"http://127.0.0.1:{unused_tcp_port}")

    await asyncio.sleep(0.5)
    response = await client.get("/readyz")

    assert response.status == 503
    assert response.headers["Cache-Control"] == "no-store"


async def test_readyz_is_503_when_the_bucket_is_missing(proxy_client: ClientFactory) -> None:
    client = await proxy_client(s3_bucket="no-such-bucket-here")

    await asyncio.sleep(0.5)

    assert (await client.get("/readyz")).status == 503


async def test_readyz_is_a_cached_canary_not_an_s3_call_per_probe(
    proxy_client: ClientFactory,
) -> None:
    client = await proxy_client(ready_interval=3600)
    await wait_for_status(client, "/readyz", 200)
    calls = 0
    store = client.app[__import__("proxy.keys").keys.STORE]
    original_check = store.check

    async def counting_check() -> None:
        nonlocal calls
        calls += 1
        await original_check()

    store.check = counting_check  # type: ignore[method-assign]
    for _ in range(20):
        assert (await client.get("/readyz")).status == 200

    assert calls == 0
