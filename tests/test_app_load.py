"""Under load, against the real S3: single-flight, admission control, S3 outages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from proxy.config import Config
from proxy.keys import METRICS
from proxy.seaweed import SeaweedS3
from tests.conftest import CREDENTIALS, ClientFactory, put
from tests.images import decode, photo
from tests.relay import Relay

KEY = "load/photo.jpg"


def counter(client: Any, name: str) -> float:
    value = client.app[METRICS].registry.get_sample_value(name)
    return float(value or 0)


@pytest.fixture
def original(s3: Any, bucket: str) -> bytes:
    data = photo(2400, 1600)
    put(s3, bucket, KEY, data)
    return data


async def test_identical_cold_requests_cause_one_render_and_one_fetch(
    proxy_client: ClientFactory, original: bytes
) -> None:
    client = await proxy_client()

    responses = await asyncio.gather(*(client.get(f"/{KEY}?w=300&fm=webp") for _ in range(32)))
    bodies = {await response.read() for response in responses}

    assert {response.status for response in responses} == {200}
    assert len(bodies) == 1
    assert counter(client, "proxy_renders_total") == 1
    assert counter(client, "proxy_source_fetches_total") == 1


async def test_different_sizes_of_one_original_share_one_source_get(
    proxy_client: ClientFactory, original: bytes
) -> None:
    client = await proxy_client()
    widths = [100, 150, 200, 250, 300, 350, 400, 450]

    responses = await asyncio.gather(*(client.get(f"/{KEY}?w={w}&fm=jpg") for w in widths))

    assert [decode(await r.read()).width for r in responses] == widths
    assert counter(client, "proxy_renders_total") == 8
    assert counter(client, "proxy_source_fetches_total") == 1


async def test_a_failed_render_fails_its_waiters_and_the_next_request_tries_again(
    proxy_client: ClientFactory, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "broken.jpg", photo(600, 400)[:3000])
    client = await proxy_client()

    first = await asyncio.gather(*(client.get("/broken.jpg?w=100") for _ in range(8)))
    again = await client.get("/broken.jpg?w=100")

    assert {response.status for response in first} == {422}
    assert again.status == 422
    assert counter(client, "proxy_renders_total") == 2


async def test_overload_is_503_with_retry_after_never_a_500(
    proxy_client: ClientFactory, original: bytes
) -> None:
    client = await proxy_client(render_workers=1, max_queue=2)

    responses = await asyncio.gather(*(client.get(f"/{KEY}?w={200 + n}&fm=png") for n in range(12)))

    statuses = [response.status for response in responses]
    assert set(statuses) <= {200, 503}
    assert statuses.count(503) >= 1 and statuses.count(200) >= 3
    for response in responses:
        if response.status == 503:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.headers["Cache-Control"] == "no-store"
    rejected = client.app[METRICS].registry.get_sample_value(
        "proxy_render_rejections_total", {"reason": "queue"}
    )
    assert rejected == statuses.count(503)


@pytest.fixture
def own_s3(tmp_path: Path) -> Any:
    """A SeaweedFS of this test's own, so it can be stopped and started again."""
    server = SeaweedS3(tmp_path / "seaweed", CREDENTIALS)
    server.start()
    server.create_bucket("outage")
    yield server
    server.stop()


async def test_s3_outage_fast_503s_readiness_and_recovery_without_restart(
    aiohttp_client: Any, own_s3: SeaweedS3, config: Config
) -> None:
    from dataclasses import replace

    import botocore.session
    from botocore.config import Config as BotoConfig

    from proxy.app import create_app

    s3 = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=own_s3.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        config=BotoConfig(s3={"addressing_style": "path"}),
    )
    put(s3, "outage", KEY, photo(800, 600))
    client = await aiohttp_client(
        create_app(replace(config, s3_bucket="outage", s3_endpoint_url=own_s3.endpoint_url))
    )
    assert (await client.get(f"/{KEY}?w=100&fm=png")).status == 200

    own_s3.stop()
    started = time.monotonic()
    cold = await client.get(f"/{KEY}?w=120&fm=png")
    elapsed = time.monotonic() - started
    cached = await client.get(f"/{KEY}?w=100&fm=png")
    for _ in range(100):  # the canary notices within a few of its intervals
        ready_while_down = await client.get("/readyz")
        if ready_while_down.status == 503:
            break
        await asyncio.sleep(0.1)
    live_while_down = await client.get("/healthz")

    assert cold.status == 503 and int(cold.headers["Retry-After"]) >= 1
    assert elapsed < 5
    assert cached.status == 200 and cached.headers["X-Cache-Status"] == "HIT-MEMORY"
    assert ready_while_down.status == 503
    assert live_while_down.status == 200

    own_s3.start()
    for _ in range(100):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.1)
    recovered = await client.get(f"/{KEY}?w=120&fm=png")
    assert recovered.status == 200


async def test_a_slow_s3_gives_a_503_in_seconds_not_a_hang(
    proxy_client: ClientFactory, s3_server: SeaweedS3, original: bytes
) -> None:
    relay = Relay(int(s3_server.endpoint_url.rsplit(":", 1)[1])).start()
    try:
        client = await proxy_client(s3_endpoint_url=relay.url, s3_read_timeout=1, s3_max_attempts=2)
        relay.delay = 10  # far beyond the read timeout

        started = time.monotonic()
        response = await client.get(f"/{KEY}?w=100")
        elapsed = time.monotonic() - started

        assert response.status == 503
        assert elapsed < 8
        relay.delay = 0
        assert (await client.get(f"/{KEY}?w=100")).status == 200
    finally:
        relay.stop()
