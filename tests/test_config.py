"""Specification of configuration from `PROXY_*` environment variables."""

from __future__ import annotations

import os
from typing import Any

import pytest

from proxy.config import SETTINGS, Config, ConfigError, load_config

BUCKET = {"PROXY_S3_BUCKET": "images"}


def load(**env: str) -> Config:
    return load_config({**BUCKET, **env})


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(env)
    return exc.value.problems


# --- defaults --------------------------------------------------------------------------


def test_only_the_bucket_is_needed_and_everything_else_has_a_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert load_config({"PROXY_S3_BUCKET": "images"}) == Config(
        s3_bucket="images",
        s3_endpoint_url=None,
        s3_region="us-east-1",
        host="0.0.0.0",
        port=8080,
        result_prefix="_variants/",
        max_dimension=5000,
        max_source_bytes=40 * 1024 * 1024,
        max_source_pixels=50_000_000,
        memory_cache_mb=256,
        cache_max_age=86400,
        render_workers=6,
        render_timeout=20.0,
        s3_connect_timeout=2.0,
        s3_read_timeout=5.0,
        s3_max_attempts=3,
        ready_interval=5.0,
        log_level="INFO",
    )


def test_render_workers_default_to_one_when_cpu_count_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert load().render_workers == 1


@pytest.mark.parametrize(
    "setting",
    [s for s in SETTINGS if s.default is not None and s.env != "PROXY_RENDER_WORKERS"],
    ids=lambda s: s.env,
)
def test_documented_default_is_the_default(setting: Any) -> None:
    assert load(**{setting.env: setting.default}) == load()


def test_given_environ_is_used_instead_of_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROXY_PORT", "not-a-port")
    monkeypatch.setenv("PROXY_TYPO", "1")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    loaded = load()
    assert (loaded.port, loaded.s3_region) == (8080, "us-east-1")


# --- valid values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "field", "raw", "value"),
    [
        ("PROXY_S3_BUCKET", "s3_bucket", "my-bucket.v2", "my-bucket.v2"),
        ("PROXY_S3_BUCKET", "s3_bucket", "  abc  ", "abc"),
        (
            "PROXY_S3_ENDPOINT_URL",
            "s3_endpoint_url",
            "http://localhost:9000",
            "http://localhost:9000",
        ),
        (
            "PROXY_S3_ENDPOINT_URL",
            "s3_endpoint_url",
            "https://s3.example.com/",
            "https://s3.example.com",
        ),
        ("PROXY_S3_ENDPOINT_URL", "s3_endpoint_url", "", None),
        ("PROXY_HOST", "host", "127.0.0.1", "127.0.0.1"),
        ("PROXY_HOST", "host", "  ", "0.0.0.0"),
        ("PROXY_PORT", "port", "1", 1),
        ("PROXY_PORT", "port", " 65535 ", 65535),
        ("PROXY_MAX_DIMENSION", "max_dimension", "20000", 20000),
        ("PROXY_MAX_SOURCE_BYTES", "max_source_bytes", "1024", 1024),
        ("PROXY_MAX_SOURCE_PIXELS", "max_source_pixels", "1000000", 1_000_000),
        ("PROXY_MEMORY_CACHE_MB", "memory_cache_mb", "0", 0),
        ("PROXY_CACHE_MAX_AGE", "cache_max_age", "0", 0),
        ("PROXY_RENDER_WORKERS", "render_workers", "4", 4),
        ("PROXY_RENDER_TIMEOUT", "render_timeout", "0.5", 0.5),
        ("PROXY_S3_CONNECT_TIMEOUT", "s3_connect_timeout", "120", 120.0),
        ("PROXY_S3_READ_TIMEOUT", "s3_read_timeout", "0.1", 0.1),
        ("PROXY_S3_MAX_ATTEMPTS", "s3_max_attempts", "10", 10),
        ("PROXY_READY_INTERVAL", "ready_interval", "3600", 3600.0),
        ("PROXY_LOG_LEVEL", "log_level", "debug", "DEBUG"),
        ("PROXY_LOG_LEVEL", "log_level", " Warning ", "WARNING"),
    ],
)
def test_valid_values_are_parsed(env: str, field: str, raw: str, value: object) -> None:
    assert getattr(load_config({**BUCKET, env: raw}), field) == value


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        ("_variants/", "_variants/"),
        ("cache", "cache/"),
        ("/cache", "cache/"),
        ("  cache/v  ", "cache/v/"),
        ("//cache/v/", "cache/v/"),
    ],
)
def test_result_prefix_is_normalised_to_end_in_a_slash(raw: str, prefix: str) -> None:
    assert load(PROXY_RESULT_PREFIX=raw).result_prefix == prefix


# --- required and invalid values -------------------------------------------------------


def test_bucket_is_required() -> None:
    found = problems({})
    assert len(found) == 1
    assert found[0].startswith("PROXY_S3_BUCKET is required")


@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("PROXY_S3_BUCKET", ""),
        ("PROXY_S3_BUCKET", "ab"),
        ("PROXY_S3_BUCKET", "b" * 64),
        ("PROXY_S3_BUCKET", "my_bucket"),
        ("PROXY_S3_BUCKET", "my bucket"),
        ("PROXY_S3_BUCKET", "bucket/key"),
        ("PROXY_S3_ENDPOINT_URL", "localhost:9000"),
        ("PROXY_S3_ENDPOINT_URL", "ftp://example.com"),
        ("PROXY_PORT", "0"),
        ("PROXY_PORT", "65536"),
        ("PROXY_PORT", "http"),
        ("PROXY_PORT", "80.5"),
        ("PROXY_PORT", ""),
        ("PROXY_RESULT_PREFIX", ""),
        ("PROXY_RESULT_PREFIX", "/"),
        ("PROXY_RESULT_PREFIX", "  "),
        ("PROXY_MAX_DIMENSION", "0"),
        ("PROXY_MAX_DIMENSION", "20001"),
        ("PROXY_MAX_SOURCE_BYTES", "0"),
        ("PROXY_MAX_SOURCE_BYTES", "40MB"),
        ("PROXY_MAX_SOURCE_PIXELS", "0"),
        ("PROXY_MEMORY_CACHE_MB", "-1"),
        ("PROXY_CACHE_MAX_AGE", "-1"),
        ("PROXY_RENDER_WORKERS", "0"),
        ("PROXY_RENDER_WORKERS", "257"),
        ("PROXY_RENDER_TIMEOUT", "0"),
        ("PROXY_RENDER_TIMEOUT", "601"),
        ("PROXY_RENDER_TIMEOUT", "nan"),
        ("PROXY_RENDER_TIMEOUT", "inf"),
        ("PROXY_RENDER_TIMEOUT", "20s"),
        ("PROXY_S3_CONNECT_TIMEOUT", "0.05"),
        ("PROXY_S3_READ_TIMEOUT", "601"),
        ("PROXY_S3_MAX_ATTEMPTS", "0"),
        ("PROXY_S3_MAX_ATTEMPTS", "11"),
        ("PROXY_READY_INTERVAL", "0"),
        ("PROXY_LOG_LEVEL", "TRACE"),
        ("PROXY_LOG_LEVEL", ""),
    ],
)
def test_invalid_value_is_reported_by_variable_name(env: str, raw: str) -> None:
    found = problems({**BUCKET, env: raw})
    assert len(found) == 1
    assert found[0].startswith(env + " ")


@pytest.mark.parametrize("raw", ["bücket", "образы", "\uff11\uff12\uff13"])
def test_non_ascii_bucket_name_is_refused(raw: str) -> None:
    found = problems({"PROXY_S3_BUCKET": raw})
    assert found[0].startswith("PROXY_S3_BUCKET ")


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "PROXY_PORT": "99999",
            "PROXY_LOG_LEVEL": "LOUD",
            "PROXY_RENDER_TIMEOUT": "soon",
            "PROXY_RESULT_PREFIX": "/",
            "PROXY_S3_ENDPOINT_URL": "minio:9000",
            "PROXY_CACHE_SIZE": "1",
        }
    )
    named = sorted(problem.split(" ", 1)[0] for problem in found)
    assert named == [
        "PROXY_CACHE_SIZE",
        "PROXY_LOG_LEVEL",
        "PROXY_PORT",
        "PROXY_RENDER_TIMEOUT",
        "PROXY_RESULT_PREFIX",
        "PROXY_S3_BUCKET",
        "PROXY_S3_ENDPOINT_URL",
    ]


def test_config_error_message_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config({"PROXY_PORT": "x", "PROXY_MAX_DIMENSION": "y"})
    assert str(exc.value) == "\n".join(exc.value.problems)
    assert len(exc.value.problems) == 3


# --- unknown variables -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["PROXY_PROT", "PROXY_S3_REGION", "PROXY_BUCKET", "PROXY_"])
def test_unknown_proxy_variable_is_refused(name: str) -> None:
    assert problems({**BUCKET, name: "1"}) == [f"{name} is not a known setting"]


def test_unknown_variables_are_reported_sorted() -> None:
    found = problems({**BUCKET, "PROXY_ZED": "1", "PROXY_ALPHA": "1"})
    assert found == ["PROXY_ALPHA is not a known setting", "PROXY_ZED is not a known setting"]


@pytest.mark.parametrize("name", ["HOME", "PROXY", "proxy_port", "HTTP_PROXY", "XPROXY_PORT"])
def test_other_variables_are_ignored(name: str) -> None:
    assert load(**{name: "whatever"}) == load()


# --- region ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "region"),
    [
        ({}, "us-east-1"),
        ({"AWS_REGION": "eu-west-3"}, "eu-west-3"),
        ({"AWS_DEFAULT_REGION": "eu-central-1"}, "eu-central-1"),
        ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-central-1"}, "eu-west-3"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-central-1"}, "eu-central-1"),
        ({"AWS_REGION": " eu-west-3 "}, "eu-west-3"),
    ],
)
def test_aws_region_is_honoured(env: dict[str, str], region: str) -> None:
    assert load(**env).s3_region == region


def test_blank_aws_region_falls_back() -> None:
    assert load(AWS_REGION="  ", AWS_DEFAULT_REGION="eu-central-1").s3_region == "eu-central-1"


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        load().port = 1  # type: ignore[misc]
