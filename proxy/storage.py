"""S3 access behind a small Protocol; botocore errors become `ProxyError`s here.

One aiobotocore client per process (created by `open_s3_client` in the app's
cleanup context), SigV4 only, path-style addressing for S3-compatible stores,
standard retries with backoff and tight timeouts so an S3 outage turns into a
fast 503 instead of a hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiobotocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .config import Config
from .errors import NotFound, PayloadTooLarge, ProxyError, ServiceUnavailable
from .metrics import Metrics

log = logging.getLogger(__name__)

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden"})
STREAM_CHUNK = 256 * 1024
#: What an S3 call can raise besides our own errors; `translate` maps each.
S3_ERRORS = (TimeoutError, BotoCoreError, ClientError, OSError)


@dataclass(frozen=True)
class ObjectMeta:
    content_type: str
    content_length: int
    etag: str
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    meta: ObjectMeta


class ObjectStream(Protocol):
    meta: ObjectMeta

    def chunks(self) -> AsyncGenerator[bytes]: ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    """What the proxy needs from S3; `S3Store` is the real one."""

    async def read(self, key: str, *, max_bytes: int) -> StoredObject: ...

    async def open(self, key: str) -> ObjectStream: ...

    async def head(self, key: str) -> ObjectMeta: ...

    async def write(
        self, key: str, body: bytes, *, content_type: str, metadata: Mapping[str, str]
    ) -> str: ...

    async def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str) -> AsyncIterator[str]: ...

    async def delete_keys(self, keys: list[str]) -> None: ...

    async def check(self) -> None: ...


def boto_config(config: Config) -> BotoConfig:
    return BotoConfig(
        signature_version="s3v4",
        region_name=config.s3_region,
        connect_timeout=config.s3_connect_timeout,
        read_timeout=config.s3_read_timeout,
        retries={"mode": "standard", "max_attempts": config.s3_max_attempts},
        max_pool_connections=64,
        # TLS (or the loopback) already guards the bytes; CRC32 over every
        # original and variant costs CPU on the hot paths (about 1 ms per 4 MB).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        parameter_validation=False,  # our own calls, always well formed
        s3={"addressing_style": "path" if config.s3_endpoint_url else "auto"},
    )


@asynccontextmanager
async def open_s3_client(config: Config) -> AsyncIterator[Any]:
    """The process's one S3 client; credentials from the standard AWS chain."""
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "s3",
        endpoint_url=config.s3_endpoint_url,
        region_name=config.s3_region,
        config=boto_config(config),
    ) as client:
        yield client


class _S3Stream:
    def __init__(self, meta: ObjectMeta, body: Any, key: str) -> None:
        self.meta = meta
        self._body = body
        self._key = key

    async def chunks(self) -> AsyncGenerator[bytes]:
        try:
            async for chunk in self._body.iter_chunks(STREAM_CHUNK):
                yield chunk
        except S3_ERRORS as exc:
            raise translate(exc, self._key) from exc
        finally:
            self.close()

    async def read(self) -> bytes:
        """The whole body in one piece (one copy, not a chunk list joined again)."""
        try:
            return bytes(await self._body.read())
        except S3_ERRORS as exc:
            raise translate(exc, self._key) from exc
        finally:
            self.close()

    def close(self) -> None:
        self._body.close()


class S3Store:
    def __init__(
        self,
        client: Any,
        bucket: str,
        metrics: Metrics | None = None,
        *,
        deadline: float = 10.0,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._metrics = metrics
        # botocore's timeouts are per attempt; this bounds a call with its retries.
        self._deadline = deadline

    async def _call(self, operation: str, key: str, **params: Any) -> Any:
        """One S3 call: timed, counted, bounded by the deadline, its errors translated."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._deadline):
                return await getattr(self._client, operation)(Bucket=self._bucket, **params)
        except S3_ERRORS as exc:
            error = translate(exc, key)
            if self._metrics is not None:
                self._metrics.s3_errors.labels(operation, type(error).__name__).inc()
            raise error from exc
        finally:
            if self._metrics is not None:
                self._metrics.s3_seconds.labels(operation).observe(time.perf_counter() - started)

    async def read(self, key: str, *, max_bytes: int) -> StoredObject:
        stream = await self.open(key)
        if stream.meta.content_length > max_bytes:
            stream.close()  # refuse without reading it
            raise PayloadTooLarge("original is too large")
        assert isinstance(stream, _S3Stream)
        try:
            async with asyncio.timeout(self._deadline):
                body = await stream.read()
        except TimeoutError:
            stream.close()
            raise ServiceUnavailable("storage is unavailable", retry_after=2) from None
        return StoredObject(body, stream.meta)

    async def open(self, key: str) -> ObjectStream:
        response = await self._call("get_object", key, Key=key)
        return _S3Stream(_meta(response), response["Body"], key)

    async def head(self, key: str) -> ObjectMeta:
        return _meta(await self._call("head_object", key, Key=key))

    async def write(
        self, key: str, body: bytes, *, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        """Store `body` whole (S3 PutObject is atomic: all of it or nothing); its ETag."""
        response = await self._call(
            "put_object",
            key,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=dict(metadata),
        )
        return str(response.get("ETag", ""))

    async def delete(self, key: str) -> None:
        await self._call("delete_object", key, Key=key)

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": prefix}
            if token:
                params["ContinuationToken"] = token
            page = await self._call("list_objects_v2", prefix, **params)
            for item in page.get("Contents", []):
                yield str(item["Key"])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 at most
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            response = await self._call(
                "delete_objects", "", Delete={"Objects": batch, "Quiet": True}
            )
            if response.get("Errors"):
                log.warning("S3 kept %d objects it was asked to delete", len(response["Errors"]))
                raise ServiceUnavailable("storage is unavailable", retry_after=2)

    async def check(self) -> None:
        await self._call("head_bucket", "")


def translate(exc: BaseException, key: str) -> ProxyError:
    """One place that maps S3's errors onto what a client may be told."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _NOT_FOUND:
            return NotFound()
        if code in _DENIED:
            # Without s3:ListBucket, S3 says 403 for a key that does not exist.
            log.warning("S3 denied access to a key; answering 404", extra={"s3_key": key})
            return NotFound()
        if status >= 500 or code in {
            "SlowDown",
            "Throttling",
            "RequestTimeout",
            "ServiceUnavailable",
        }:
            return ServiceUnavailable("storage is unavailable", retry_after=2)
        log.error("unexpected S3 error %s (HTTP %s)", code, status)
        return ServiceUnavailable("storage error", retry_after=2)
    log.warning("S3 unreachable: %s", type(exc).__name__)
    return ServiceUnavailable("storage is unavailable", retry_after=2)


def _meta(response: Mapping[str, Any]) -> ObjectMeta:
    return ObjectMeta(
        content_type=str(response.get("ContentType") or "application/octet-stream"),
        content_length=int(response.get("ContentLength") or 0),
        etag=str(response.get("ETag") or ""),
        last_modified=response["LastModified"],
        metadata=dict(response.get("Metadata") or {}),
    )
