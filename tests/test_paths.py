"""Specification of object keys taken from URL paths."""

from __future__ import annotations

import pytest

from proxy.errors import BadRequest
from proxy.paths import MAX_KEY_BYTES, parse_key

PREFIX = "_variants/"


@pytest.mark.parametrize(
    "key",
    [
        "cat.jpg",
        "original_images/cat.jpg",
        "a/b/c/d/e.png",
        "with space.jpg",
        "plus+and%percent.jpg",
        "ünïcödé/猫.jpg",
        "emoji-😀.png",
        "a..b/c.jpg",
        "..a/b",
        "a/b..",
        ".hidden/x.jpg",
        "...",
        "_variantsX/a.jpg",
        "_variants.jpg",
        "photos/_variants/x.jpg",
        "x" * MAX_KEY_BYTES,
        "é" * (MAX_KEY_BYTES // 2),  # 2 bytes each: exactly 1024 bytes
    ],
)
def test_ordinary_keys_are_returned_unchanged(key: str) -> None:
    assert parse_key(key, result_prefix=PREFIX) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        ".",
        "..",
        "../etc/passwd",
        "a/../b",
        "a/..",
        "./a",
        "a/./b",
        "a/.",
        "a//b",
        "/a",
        "a/",
        "/",
        "//",
        "/a/",
    ],
)
def test_dot_and_empty_segments_are_refused(key: str) -> None:
    with pytest.raises(BadRequest):
        parse_key(key, result_prefix=PREFIX)


@pytest.mark.parametrize(
    "key",
    ["a\x00b", "a\nb", "a\rb", "a\tb", "\x1b[31m.jpg", "a\x1fb", "a\x7fb", "cat.jpg\n"],
)
def test_ascii_control_characters_are_refused(key: str) -> None:
    with pytest.raises(BadRequest):
        parse_key(key, result_prefix=PREFIX)


@pytest.mark.parametrize("key", ["a\x85b", "\x9b31m.jpg"])
def test_c1_control_characters_are_refused(key: str) -> None:
    with pytest.raises(BadRequest):
        parse_key(key, result_prefix=PREFIX)


@pytest.mark.parametrize(
    "key",
    [
        "x" * (MAX_KEY_BYTES + 1),
        "a/" * 512 + "b",
        "é" * (MAX_KEY_BYTES // 2) + "a",  # 513 characters, 1025 bytes
        "猫" * 342,  # 342 characters, 1026 bytes
        "😀" * 257,  # 257 characters, 1028 bytes
    ],
)
def test_keys_over_1024_utf8_bytes_are_refused(key: str) -> None:
    assert len(key) <= MAX_KEY_BYTES + 1
    with pytest.raises(BadRequest):
        parse_key(key, result_prefix=PREFIX)


@pytest.mark.parametrize(
    "key",
    ["_variants", "_variants/x", "_variants/ab/cd/w=400&fm=webp", "_variants/a/b.jpg"],
)
def test_keys_under_the_result_prefix_are_refused(key: str) -> None:
    with pytest.raises(BadRequest):
        parse_key(key, result_prefix=PREFIX)


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("cache/v", True),
        ("cache/v/x.jpg", True),
        ("cache/vx.jpg", False),
        ("cache", False),
        ("cache/x.jpg", False),
        ("v/x.jpg", False),
    ],
)
def test_nested_result_prefix(key: str, refused: bool) -> None:
    if refused:
        with pytest.raises(BadRequest):
            parse_key(key, result_prefix="cache/v/")
    else:
        assert parse_key(key, result_prefix="cache/v/") == key


def test_refusal_is_a_cacheable_400() -> None:
    with pytest.raises(BadRequest) as exc:
        parse_key("a/../b", result_prefix=PREFIX)
    assert exc.value.status == 400
    assert exc.value.message.startswith("key:")
