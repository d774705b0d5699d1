"""Configuration: one frozen dataclass, read from `PROXY_*` environment variables.

`load_config` validates every variable and reports every problem at once, so an
operator fixes a bad deployment in one round instead of one crash per typo.
Credentials and region come from the standard AWS chain (botocore), not from here,
except that `AWS_REGION` is honoured explicitly because older botocore ignores it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any


class ConfigError(Exception):
    """Raised with every problem found in the environment."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Setting:
    """One documented environment variable (the README table is made from these)."""

    env: str
    field: str
    default: str | None
    help: str


@dataclass(frozen=True)
class Config:
    s3_bucket: str
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    host: str = "0.0.0.0"
    port: int = 8080
    result_prefix: str = "_variants/"
    max_dimension: int = 5000
    max_source_bytes: int = 40 * 1024 * 1024
    max_source_pixels: int = 50_000_000
    memory_cache_mb: int = 256
    cache_max_age: int = 86400
    render_workers: int = 2
    render_timeout: float = 20.0
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 10.0
    s3_max_attempts: int = 3
    ready_interval: float = 5.0
    log_level: str = "INFO"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PROXY_S3_BUCKET",
        "s3_bucket",
        None,
        "Bucket holding originals and stored variants (required).",
    ),
    Setting(
        "PROXY_S3_ENDPOINT_URL",
        "s3_endpoint_url",
        "",
        "S3-compatible endpoint (MinIO, R2, SeaweedFS); path-style addressing. Empty: AWS S3.",
    ),
    Setting("PROXY_HOST", "host", "0.0.0.0", "Address to listen on."),
    Setting("PROXY_PORT", "port", "8080", "Port to listen on."),
    Setting(
        "PROXY_RESULT_PREFIX",
        "result_prefix",
        "_variants/",
        "Key prefix of stored variants; keys under it are never served or written as originals.",
    ),
    Setting(
        "PROXY_MAX_DIMENSION",
        "max_dimension",
        "5000",
        "Largest accepted `w`/`h` (after `dpr`), in pixels.",
    ),
    Setting(
        "PROXY_MAX_SOURCE_BYTES",
        "max_source_bytes",
        "41943040",
        "Largest original read, in bytes; larger ones get 413 without being read.",
    ),
    Setting(
        "PROXY_MAX_SOURCE_PIXELS",
        "max_source_pixels",
        "50000000",
        "Largest original decoded, in pixels (checked from the header); larger ones get 413.",
    ),
    Setting(
        "PROXY_MEMORY_CACHE_MB",
        "memory_cache_mb",
        "256",
        "Size of the in-process variant cache, in MiB of image bytes (0 turns it off).",
    ),
    Setting(
        "PROXY_CACHE_MAX_AGE", "cache_max_age", "86400", "`max-age` of image responses, in seconds."
    ),
    Setting("PROXY_RENDER_WORKERS", "render_workers", "number of CPUs", "Render processes."),
    Setting(
        "PROXY_RENDER_TIMEOUT",
        "render_timeout",
        "20",
        "Deadline of one render, in seconds; then 503 and the worker is replaced.",
    ),
    Setting(
        "PROXY_S3_CONNECT_TIMEOUT", "s3_connect_timeout", "2", "S3 connect timeout, in seconds."
    ),
    Setting("PROXY_S3_READ_TIMEOUT", "s3_read_timeout", "10", "S3 read timeout, in seconds."),
    Setting(
        "PROXY_S3_MAX_ATTEMPTS",
        "s3_max_attempts",
        "3",
        "S3 attempts per call (botocore standard retries with backoff).",
    ),
    Setting(
        "PROXY_READY_INTERVAL",
        "ready_interval",
        "5",
        "Seconds between the S3 canary checks behind `/readyz`.",
    ),
    Setting("PROXY_LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING or ERROR."),
)


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _float(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {value:g}")
        return value

    return parse


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _bucket(raw: str) -> str:
    value = raw.strip()
    if not _BUCKET.fullmatch(value):
        raise ValueError("must be a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    return value


def _url(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def _prefix(raw: str) -> str:
    value = raw.strip().lstrip("/")
    if not value:
        raise ValueError("must not be empty (variants would mix with originals)")
    return value if value.endswith("/") else value + "/"


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "s3_bucket": _bucket,
    "s3_endpoint_url": _url,
    "host": lambda raw: raw.strip() or "0.0.0.0",
    "port": _int(1, 65535),
    "result_prefix": _prefix,
    "max_dimension": _int(1, 20000),
    "max_source_bytes": _int(1, 2**34),
    "max_source_pixels": _int(1, 1_000_000_000),
    "memory_cache_mb": _int(0, 1 << 20),
    "cache_max_age": _int(0, 10 * 365 * 86400),
    "render_workers": _int(1, 256),
    "render_timeout": _float(0.1, 600),
    "s3_connect_timeout": _float(0.1, 120),
    "s3_read_timeout": _float(0.1, 600),
    "s3_max_attempts": _int(1, 10),
    "ready_interval": _float(0.1, 3600),
    "log_level": _log_level,
}


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration; raise `ConfigError` listing every bad variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {"render_workers": os.cpu_count() or 1}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None:
            if setting.default is None:
                problems.append(f"{setting.env} is required: {setting.help}")
            continue
        try:
            values[setting.field] = _PARSERS[setting.field](raw)
        except ValueError as exc:
            problems.append(f"{setting.env} {exc}")
    unknown = sorted(name for name in env if name.startswith("PROXY_") and name not in _KNOWN_ENV)
    problems.extend(f"{name} is not a known setting" for name in unknown)
    region = (env.get("AWS_REGION") or "").strip() or (env.get("AWS_DEFAULT_REGION") or "").strip()
    if region:
        values["s3_region"] = region
    if problems:
        raise ConfigError(problems)
    return Config(**values)


_KNOWN_ENV = frozenset(s.env for s in SETTINGS)
assert {s.field for s in SETTINGS} | {"s3_region"} == {f.name for f in fields(Config)}
