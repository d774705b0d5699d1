"""Signed URLs. Pure: no I/O.

The string to sign is three lines joined by "\\n":

    METHOD                       GET (also for HEAD), PUT or DELETE
    PATH                         percent-encoded canonically (see `canonical_path`)
    CANONICAL QUERY              every parameter but `s`, encoded, sorted, joined by "&"

The signature is HMAC-SHA256 of it under a key, base64url without padding, in
the `s` parameter. `exp` (unix seconds), when present, is signed like any
other parameter and checked against the clock. The first key signs; every key
verifies, so keys rotate without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from .errors import Forbidden

SIGNATURE_PARAM = "s"
EXPIRES_PARAM = "exp"
_SAFE = "-_.~"  # RFC 3986 unreserved characters besides letters and digits


def canonical_path(path: str) -> str:
    """The decoded path, percent-encoded with only unreserved characters and `/` left as is."""
    return quote(path, safe="/" + _SAFE)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted(
        (quote(name, safe=_SAFE), quote(value, safe=_SAFE))
        for name, value in pairs
        if name != SIGNATURE_PARAM
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def string_to_sign(method: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    signed_method = "GET" if method.upper() == "HEAD" else method.upper()
    return f"{signed_method}\n{canonical_path(path)}\n{canonical_query(pairs)}"


def signature(key: str, method: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    digest = hmac.new(
        key.encode(), string_to_sign(method, path, pairs).encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    key: str,
    method: str,
    path: str,
    pairs: Sequence[tuple[str, str]],
    *,
    expires_at: int | None = None,
) -> str:
    """The signed path with its query, ready to append to the origin's address."""
    signed = [
        (name, value) for name, value in pairs if name not in (SIGNATURE_PARAM, EXPIRES_PARAM)
    ]
    if expires_at is not None:
        signed.append((EXPIRES_PARAM, str(expires_at)))
    signed.append((SIGNATURE_PARAM, signature(key, method, path, signed)))
    query = "&".join(f"{quote(n, safe=_SAFE)}={quote(v, safe=_SAFE)}" for n, v in signed)
    return f"{canonical_path(path)}?{query}"


def verify(
    keys: Sequence[str],
    method: str,
    path: str,
    pairs: Sequence[tuple[str, str]],
    *,
    now: float,
) -> None:
    """Raise `Forbidden` with a short reason unless one of `keys` signed this request."""
    given = [value for name, value in pairs if name == SIGNATURE_PARAM]
    if not given:
        raise Forbidden("signature required")
    if len(given) > 1:
        raise Forbidden("signature given more than once")
    expected_any = False
    for key in keys:
        # Every key is tried, whatever matched, so timing says nothing about which.
        if hmac.compare_digest(signature(key, method, path, pairs).encode(), given[0].encode()):
            expected_any = True
    if not expected_any:
        raise Forbidden("invalid signature")
    expires = [value for name, value in pairs if name == EXPIRES_PARAM]
    if expires:
        if len(expires) > 1 or not (expires[0].isascii() and expires[0].isdigit()):
            raise Forbidden("invalid expiry")
        if int(expires[0]) < now:
            raise Forbidden("signature expired")
