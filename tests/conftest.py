"""Shared fixtures: a real SeaweedFS S3 (private, SigV4 only) for the whole session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from proxy.app import create_app
from proxy.config import Config
from proxy.seaweed import S3Credentials, SeaweedS3

CREDENTIALS = S3Credentials("test-access", "test-secret-" + uuid.uuid4().hex)
#: A role that may read but not write (result-store writes fail).
READ_ONLY = S3Credentials("test-reader", "reader-" + uuid.uuid4().hex, ("Read", "List"))
#: A role without s3:GetObject (S3 answers AccessDenied on every read).
NO_READ = S3Credentials("test-noread", "noread-" + uuid.uuid4().hex, ("List",))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    # Credentials reach the proxy through the standard AWS chain, as in production.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": CREDENTIALS.access_key,
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS.secret_key,
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"), CREDENTIALS, READ_ONLY, NO_READ)
    server.start()
    server.create_bucket("warmup")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(s3_server: SeaweedS3) -> Any:
    """A plain (sync) botocore client, for arranging and inspecting the bucket."""
    return s3_server.client()


@pytest.fixture
def bucket(s3_server: SeaweedS3, s3: Any) -> str:
    """A fresh, private bucket per test, so tests never see each other's objects."""
    name = "t-" + uuid.uuid4().hex[:20]
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def config(s3_server: SeaweedS3, bucket: str) -> Config:
    return Config(
        s3_bucket=bucket,
        s3_endpoint_url=s3_server.endpoint_url,
        render_workers=2,
        render_timeout=20,
        ready_interval=0.2,
        s3_connect_timeout=1,
        s3_read_timeout=3,
        s3_max_attempts=2,
    )


ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def proxy_client(aiohttp_client: Any, config: Config) -> ClientFactory:
    """`await proxy_client(**overrides)` -> a test client of a fresh app."""

    async def make(**overrides: Any) -> TestClient[web.Request, web.Application]:
        from dataclasses import replace

        return await aiohttp_client(create_app(replace(config, **overrides)))  # type: ignore[no-any-return]

    return make


def put(s3: Any, bucket: str, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def keys_in(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


FIXTURES = Path(__file__).parent / "fixtures"


def use_credentials(monkeypatch: pytest.MonkeyPatch, credentials: S3Credentials) -> None:
    """Make the next app read its credentials (standard AWS chain) as `credentials`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)


async def raw_status(client: TestClient[web.Request, web.Application], target: str) -> int:
    """Send a request target exactly as written (clients normalise `..` away)."""
    import asyncio

    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])
