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
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ProxyError


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
    source_cache_mb: int = 128
    cache_max_age: int = 86400
    render_workers: int = 2
    render_timeout: float = 20.0
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 5.0
    s3_max_attempts: int = 3
    s3_deadline: float = 8.0
    ready_interval: float = 5.0
    log_level: str = "INFO"
    signing_keys: tuple[str, ...] = ()
    presets: Mapping[str, str] = field(default_factory=dict)
    only_presets: bool = False
    eager_presets: tuple[str, ...] = ()
    origin_secrets: tuple[str, ...] = ()
    revalidate_seconds: int = 300
    path_templates: tuple[str, ...] = ()
    max_queue: int = 64
    max_uploads: int = 8
    max_render_memory_mb: int = 256
    tls_cert: str | None = None
    tls_key: str | None = None
    shutdown_timeout: float = 25.0
    drain_delay: float = 0.0


# fmt: off
SETTINGS: tuple[Setting, ...] = (
    Setting("PROXY_S3_BUCKET", "s3_bucket", None, "Bucket holding originals and stored variants (required)."),
    Setting("PROXY_S3_ENDPOINT_URL", "s3_endpoint_url", "", "S3-compatible endpoint (MinIO, R2, SeaweedFS); path-style addressing. Empty: AWS S3."),
    Setting("PROXY_HOST", "host", "0.0.0.0", "Address to listen on."),
    Setting("PROXY_PORT", "port", "8080", "Port to listen on."),
    Setting("PROXY_RESULT_PREFIX", "result_prefix", "_variants/", "Key prefix of stored variants; keys under it are never served or written as originals."),
    Setting("PROXY_MAX_DIMENSION", "max_dimension", "5000", "Largest accepted `w`/`h` (after `dpr`), in pixels."),
    Setting("PROXY_MAX_SOURCE_BYTES", "max_source_bytes", "41943040", "Largest original read, in bytes; larger ones get 413 without being read."),
    Setting("PROXY_MAX_SOURCE_PIXELS", "max_source_pixels", "50000000", "Largest original decoded, in pixels (checked from the header); larger ones get 413."),
    Setting("PROXY_MEMORY_CACHE_MB", "memory_cache_mb", "256", "Size of the in-process variant cache, in MiB of image bytes (0 turns it off)."),
    Setting("PROXY_SOURCE_CACHE_MB", "source_cache_mb", "128", "Originals' bytes kept for 10 s so a burst of sizes shares one S3 GET, in MiB (0 turns it off; in-flight GETs are shared anyway)."),
    Setting("PROXY_CACHE_MAX_AGE", "cache_max_age", "86400", "`max-age` of image responses, in seconds."),
    Setting("PROXY_RENDER_WORKERS", "render_workers", "number of CPUs", "Render processes."),
    Setting("PROXY_RENDER_TIMEOUT", "render_timeout", "20", "Deadline of one render, in seconds; then 503 and the worker is replaced."),
    Setting("PROXY_S3_CONNECT_TIMEOUT", "s3_connect_timeout", "2", "S3 connect timeout, in seconds."),
    Setting("PROXY_S3_READ_TIMEOUT", "s3_read_timeout", "5", "S3 read timeout, in seconds."),
    Setting("PROXY_S3_MAX_ATTEMPTS", "s3_max_attempts", "3", "S3 attempts per call (botocore standard retries with backoff)."),
    Setting("PROXY_S3_DEADLINE", "s3_deadline", "8", "Most seconds one S3 call may take with all its retries (and the body of an original); then 503."),
    Setting("PROXY_READY_INTERVAL", "ready_interval", "5", "Seconds between the S3 canary checks behind `/readyz`."),
    Setting("PROXY_LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Setting("PROXY_SIGNING_KEYS", "signing_keys", "", "Comma-separated secrets (16+ characters each). When set, every request but the health checks needs a valid `s` signature; the first key signs, every key verifies."),
    Setting("PROXY_PRESETS", "presets", "", "Named option sets, `name:query` separated by commas, e.g. `thumb:w=200&h=200&fit=cover,card:w=600&h=400&fit=cover`; used as `?preset=thumb`."),
    Setting("PROXY_ONLY_PRESETS", "only_presets", "false", "`true`: only `?preset=` variants are served (400 for arbitrary sizes)."),
    Setting("PROXY_EAGER_PRESETS", "eager_presets", "", "Comma-separated presets rendered and stored in the background after every upload."),
    Setting("PROXY_ORIGIN_SECRET", "origin_secrets", "", "When set, requests must carry it in `X-Origin-Secret` (403 otherwise); health checks are exempt. Comma-separated to accept several while rotating (16+ characters each)."),
    Setting("PROXY_REVALIDATE_SECONDS", "revalidate_seconds", "300", "Age after which a cached or stored variant is checked against its original's ETag (an original changed directly in S3 stops being served stale after this)."),
    Setting("PROXY_MAX_QUEUE", "max_queue", "64", "Renders admitted and waiting at most; beyond it 503 with Retry-After."),
    Setting("PROXY_MAX_RENDER_MEMORY_MB", "max_render_memory_mb", "256", "Memory budget of the renders running at once, estimated from each image's header after shrink-on-load (a bigger render runs alone); waiting past PROXY_RENDER_TIMEOUT is a 503."),
    Setting("PROXY_MAX_UPLOADS", "max_uploads", "8", "Uploads received at once (each is held in memory until checked); beyond it 503 with Retry-After."),
    Setting("PROXY_TLS_CERT", "tls_cert", "", "PEM certificate (chain) path. With `PROXY_TLS_KEY`, the port speaks TLS 1.2+ only; SIGHUP reloads both."),
    Setting("PROXY_TLS_KEY", "tls_key", "", "PEM private key path for `PROXY_TLS_CERT`."),
    Setting("PROXY_SHUTDOWN_TIMEOUT", "shutdown_timeout", "25", "On SIGTERM: seconds in-flight requests get to finish (`/readyz` says 503 at once)."),
    Setting("PROXY_DRAIN_DELAY", "drain_delay", "0", "On SIGTERM: seconds `/readyz` says 503 while still serving, before in-flight requests are awaited and the port closes (let load balancers notice; e.g. 5-10)."),
    Setting("PROXY_PATH_TEMPLATES", "path_templates", "", "Comma-separated path patterns mapped onto the same options, e.g. `/processed_images/{w}x{h}/{key},/{preset}/{key}`. Placeholders: `{w}` `{h}` `{fit}` `{fm}` `{q}` `{dpr}` `{preset}`, and `{key}` last."),
)
# fmt: on


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


def _path(raw: str) -> str | None:
    value = raw.strip()
    if value and not os.path.isfile(value):
        raise ValueError(f"is not a readable file: {value}")
    return value or None


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _signing_keys(raw: str) -> tuple[str, ...]:
    keys = _names(raw)
    if any(len(key) < 16 for key in keys):
        raise ValueError("keys must be at least 16 characters long")
    return keys


def _secrets(raw: str) -> tuple[str, ...]:
    values = _names(raw)
    if any(len(value) < 16 for value in values):
        raise ValueError("secrets must be at least 16 characters long")
    return values


def _presets(raw: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    from .options import parse_options

    presets: dict[str, str] = {}
    for item in _names(raw):
        name, colon, query = item.partition(":")
        name = name.strip()
        if not colon or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise ValueError(f"{item!r} is not name:query with a name of letters, digits, - and _")
        try:
            parse_options(parse_qsl(query, keep_blank_values=True), max_dimension=20000)
        except ProxyError as exc:
            raise ValueError(f"preset {name!r}: {exc.message}") from None
        presets[name] = query
    return presets


_PLACEHOLDERS = frozenset({"w", "h", "fit", "fm", "q", "dpr", "preset", "key"})


def _templates(raw: str) -> tuple[str, ...]:
    templates = _names(raw)
    for template in templates:
        names = re.findall(r"{([^}]*)}", template)
        unknown = set(names) - _PLACEHOLDERS
        if not template.startswith("/") or not template.endswith("{key}"):
            raise ValueError(f"{template!r} must start with / and end with {{key}}")
        if unknown or len(names) != len(set(names)) or names.count("key") != 1:
            raise ValueError(f"{template!r} has unknown or repeated placeholders")
    return templates


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
    "source_cache_mb": _int(0, 1 << 20),
    "cache_max_age": _int(0, 10 * 365 * 86400),
    "render_workers": _int(1, 256),
    "render_timeout": _float(0.1, 600),
    "s3_connect_timeout": _float(0.1, 120),
    "s3_read_timeout": _float(0.1, 600),
    "s3_max_attempts": _int(1, 10),
    "s3_deadline": _float(0.5, 600),
    "ready_interval": _float(0.1, 3600),
    "log_level": _log_level,
    "signing_keys": _signing_keys,
    "presets": _presets,
    "only_presets": _bool,
    "eager_presets": _names,
    "origin_secrets": _secrets,
    "revalidate_seconds": _int(0, 30 * 86400),
    "path_templates": _templates,
    "max_queue": _int(1, 100_000),
    "max_uploads": _int(1, 10_000),
    "max_render_memory_mb": _int(16, 1 << 20),
    "tls_cert": _path,
    "tls_key": _path,
    "shutdown_timeout": _float(0, 3600),
    "drain_delay": _float(0, 600),
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
    for name in values.get("eager_presets", ()):
        if name not in values.get("presets", {}):
            problems.append(
                f"PROXY_EAGER_PRESETS names {name!r}, which PROXY_PRESETS does not define"
            )
    if bool(values.get("tls_cert")) != bool(values.get("tls_key")):
        problems.append("PROXY_TLS_CERT and PROXY_TLS_KEY must be set together")
    if values.get("only_presets") and not values.get("presets"):
        problems.append("PROXY_ONLY_PRESETS is on but PROXY_PRESETS defines none")
    if problems:
        raise ConfigError(problems)
    return Config(**values)


_KNOWN_ENV = frozenset(s.env for s in SETTINGS)
assert {s.field for s in SETTINGS} | {"s3_region"} == {f.name for f in fields(Config)}


def signing_keys_from_env(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Only the signing keys, for `python -m proxy sign` (which needs no bucket)."""
    try:
        keys = _signing_keys(environ.get("PROXY_SIGNING_KEYS", ""))
    except ValueError as exc:
        raise ConfigError([f"PROXY_SIGNING_KEYS {exc}"]) from None
    if not keys:
        raise ConfigError(["PROXY_SIGNING_KEYS is not set: nothing to sign with"])
    return keys
