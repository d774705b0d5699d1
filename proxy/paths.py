"""Object keys from URL paths. Pure.

A key is refused (400) when it could escape or confuse the bucket's layout:
`..` or empty segments, control characters, more than S3's 1,024 bytes, or a
place under the result prefix, where only the proxy's own variants live.
"""

from __future__ import annotations

from .errors import BadRequest

MAX_KEY_BYTES = 1024


def parse_key(raw: str, *, result_prefix: str) -> str:
    if not raw:
        raise BadRequest("key: missing")
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise BadRequest(f"key: longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in raw):  # C0, DEL, C1
        raise BadRequest("key: control characters are not allowed")
    segments = raw.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise BadRequest("key: empty, '.' or '..' segments are not allowed")
    if (raw + "/").startswith(result_prefix):
        raise BadRequest("key: reserved for stored variants")
    return raw
