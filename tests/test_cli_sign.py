"""`python -m proxy sign`: signs a path with the first of PROXY_SIGNING_KEYS, no bucket needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from proxy.errors import Forbidden
from proxy.signing import sign, verify

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-vector-key-0123456789"
OLD_KEY = "old-rotated-key-abcdefghij"


def run_sign(
    *args: str, keys: str | None = KEY, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # Only what the command needs: no bucket, no AWS settings.
    env = {"PATH": os.environ.get("PATH", ""), **(extra_env or {})}
    if keys is not None:
        env["PROXY_SIGNING_KEYS"] = keys
    return subprocess.run(
        [sys.executable, "-m", "proxy", "sign", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def signed_url(*args: str, keys: str = KEY) -> str:
    result = run_sign(*args, keys=keys)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def decoded(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The path and query pairs as aiohttp hands them to the verifier."""
    parts = urlsplit(url)
    return unquote(parts.path), parse_qsl(parts.query, keep_blank_values=True)


def test_output_equals_sign_and_verifies() -> None:
    url = signed_url("/original_images/cat.jpg?w=400&h=300&fit=cover")

    params = [("w", "400"), ("h", "300"), ("fit", "cover")]
    assert url == sign(KEY, "GET", "/original_images/cat.jpg", params)
    path, pairs = decoded(url)
    assert path == "/original_images/cat.jpg"
    verify([KEY], "GET", path, pairs, now=time.time())
    verify([KEY], "HEAD", path, pairs, now=time.time())


def test_output_without_query_equals_sign() -> None:
    assert signed_url("/cat.jpg") == sign(KEY, "GET", "/cat.jpg", [])


def test_encoded_and_plain_input_sign_the_same_path() -> None:
    plain = signed_url("/photos/été 2024/cat.jpg?w=400")
    encoded = signed_url("/photos/%C3%A9t%C3%A9%202024/cat.jpg?w=400")

    assert plain == encoded == sign(KEY, "GET", "/photos/été 2024/cat.jpg", [("w", "400")])
    verify([KEY], "GET", *decoded(plain), now=time.time())


def test_query_values_are_decoded_then_signed() -> None:
    url = signed_url("/cat.jpg?bg=f80&tag=a+b&x=%C3%BC")

    assert url == sign(KEY, "GET", "/cat.jpg", [("bg", "f80"), ("tag", "a b"), ("x", "ü")])


# Computed independently of the proxy, with the shell:
#
#   KEY='test-vector-key-0123456789'
#   STRING=$'GET\n/caf%C3%A9/cat.jpg\nfm=webp&w=400'
#   printf '%s' "$STRING" | openssl dgst -sha256 -hmac "$KEY" -binary \
#       | base64 | tr '+/' '-_' | tr -d '='
GET_VECTOR = "yj8tDIomjnFhVSVoWGfD4b4_IMdlBTtWqNq7yEuWFkk"
#   STRING=$'PUT\n/uploads/cat.jpg\n'   (same key, same pipeline)
PUT_VECTOR = "FTD9igtPg1KyN_fFJcGipXX8xVlBIa2pMAq1nk-D-xg"


@pytest.mark.parametrize(
    "target", ["/caf%C3%A9/cat.jpg?w=400&fm=webp", "/café/cat.jpg?w=400&fm=webp"]
)
def test_fixed_vector_through_the_cli(target: str) -> None:
    assert signed_url(target) == f"/caf%C3%A9/cat.jpg?w=400&fm=webp&s={GET_VECTOR}"


def test_fixed_put_vector_through_the_cli() -> None:
    assert signed_url("--method", "PUT", "/uploads/cat.jpg") == f"/uploads/cat.jpg?s={PUT_VECTOR}"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_method_is_signed(method: str) -> None:
    url = signed_url("--method", method, "/uploads/cat.jpg")

    assert url == sign(KEY, method, "/uploads/cat.jpg", [])
    path, pairs = decoded(url)
    verify([KEY], method, path, pairs, now=time.time())
    for other in {"GET", "PUT", "DELETE"} - {method}:
        with pytest.raises(Forbidden, match=r"^invalid signature$"):
            verify([KEY], other, path, pairs, now=time.time())


def test_unsupported_method_is_a_usage_error() -> None:
    result = run_sign("--method", "POST", "/cat.jpg")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_expires_signs_an_expiry_from_now() -> None:
    before = time.time()
    url = signed_url("--expires", "60", "/cat.jpg?w=400")
    after = time.time()

    path, pairs = decoded(url)
    exp = [int(v) for n, v in pairs if n == "exp"]
    assert len(exp) == 1
    assert before + 60 - 2 <= exp[0] <= after + 60 + 2
    assert url == sign(KEY, "GET", "/cat.jpg", [("w", "400")], expires_at=exp[0])
    verify([KEY], "GET", path, pairs, now=time.time())
    with pytest.raises(Forbidden, match=r"^signature expired$"):
        verify([KEY], "GET", path, pairs, now=exp[0] + 1)


def test_without_expires_there_is_no_exp() -> None:
    _, pairs = decoded(signed_url("/cat.jpg?w=400"))
    assert [n for n, _ in pairs] == ["w", "s"]


def test_given_signature_and_expiry_are_replaced() -> None:
    url = signed_url("/cat.jpg?s=stale&w=400&exp=1")
    assert url == sign(KEY, "GET", "/cat.jpg", [("w", "400")])


def test_first_key_signs_every_key_verifies() -> None:
    url = signed_url("/cat.jpg?w=400", keys=f"{KEY},{OLD_KEY}")

    path, pairs = decoded(url)
    verify([KEY], "GET", path, pairs, now=time.time())
    verify([OLD_KEY, KEY], "GET", path, pairs, now=time.time())
    with pytest.raises(Forbidden):
        verify([OLD_KEY], "GET", path, pairs, now=time.time())


def test_keys_are_trimmed() -> None:
    assert signed_url("/cat.jpg", keys=f"  {KEY} , {OLD_KEY} ") == sign(KEY, "GET", "/cat.jpg", [])


@pytest.mark.parametrize("keys", [None, "", " , "], ids=["unset", "empty", "only-commas"])
def test_missing_keys_exit_2_with_a_message(keys: str | None) -> None:
    result = run_sign("/cat.jpg", keys=keys)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "PROXY_SIGNING_KEYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_short_key_exits_2_with_a_message() -> None:
    result = run_sign("/cat.jpg", keys="short")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "PROXY_SIGNING_KEYS" in result.stderr
    assert "16" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_bucket_or_other_settings_needed_nor_checked() -> None:
    result = run_sign("/cat.jpg", extra_env={"PROXY_PORT": "not-a-port"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target", ["cat.jpg?w=400", "", "?w=400"])
def test_path_must_start_with_a_slash(target: str) -> None:
    result = run_sign(target)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "PATH must start with /" in result.stderr
    assert "Traceback" not in result.stderr
