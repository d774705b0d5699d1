"""Access control against the real S3: signatures, rotation, presets, origin secret."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from proxy.keys import VARIANTS
from proxy.signing import sign
from tests.conftest import ClientFactory, keys_in, put
from tests.images import decode, photo

KEY_A = "first-signing-key-0123456789"
KEY_B = "second-signing-key-9876543210"
CAT = "original_images/cat.jpg"


def signed(
    target: str, method: str = "GET", key: str = KEY_A, expires_at: int | None = None
) -> str:
    parts = urlsplit(target)
    return sign(key, method, parts.path, parse_qsl(parts.query), expires_at=expires_at)


@pytest.fixture
def cat(s3: Any, bucket: str) -> bytes:
    original = photo(800, 600)
    put(s3, bucket, CAT, original)
    return original


async def reason(response: Any) -> str:
    return str((await response.json())["error"])


async def test_signed_urls_are_served_and_unsigned_refused(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(signing_keys=(KEY_A,))

    unsigned = await client.get(f"/{CAT}?w=100")
    unsigned_original = await client.get(f"/{CAT}")
    ok = await client.get(signed(f"/{CAT}?w=100"))
    original = await client.get(signed(f"/{CAT}"))
    head = await client.head(signed(f"/{CAT}?w=100"))

    assert (unsigned.status, unsigned_original.status) == (403, 403)
    assert await reason(unsigned) == "signature required"
    assert ok.status == 200
    assert original.status == 200 and await original.read() == cat
    assert head.status == 200


async def test_tampered_wrong_key_and_expired_signatures_are_403(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(signing_keys=(KEY_A,))
    good = signed(f"/{CAT}?w=100")

    tampered = await client.get(good.replace("w=100", "w=101"))
    wrong_key = await client.get(signed(f"/{CAT}?w=100", key=KEY_B))
    expired = await client.get(signed(f"/{CAT}?w=100", expires_at=int(time.time()) - 5))
    in_time = await client.get(signed(f"/{CAT}?w=100", expires_at=int(time.time()) + 60))

    assert [r.status for r in (tampered, wrong_key, expired)] == [403, 403, 403]
    assert await reason(tampered) == "invalid signature"
    assert await reason(expired) == "signature expired"
    assert in_time.status == 200


async def test_rotation_old_and_new_keys_both_verify(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(signing_keys=(KEY_B, KEY_A))  # B signs now, A still verifies

    by_old = await client.get(signed(f"/{CAT}?w=100", key=KEY_A))
    by_new = await client.get(signed(f"/{CAT}?w=100", key=KEY_B))

    assert (by_old.status, by_new.status) == (200, 200)


async def test_a_get_signature_cannot_put_or_delete(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str
) -> None:
    client = await proxy_client(signing_keys=(KEY_A,))
    url = signed(f"/{CAT}")

    put_response = await client.put(url, data=photo(10, 10))
    delete_response = await client.delete(url)

    assert (put_response.status, delete_response.status) == (403, 403)
    assert keys_in(s3, bucket, CAT) == [CAT]


async def test_health_checks_need_no_signature_or_origin_secret(
    proxy_client: ClientFactory,
) -> None:
    client = await proxy_client(signing_keys=(KEY_A,), origin_secrets=("cloudfront-secret-1234",))

    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status in (200, 503)


async def test_origin_secret_is_required_when_set(proxy_client: ClientFactory, cat: bytes) -> None:
    client = await proxy_client(origin_secrets=("cloudfront-secret-1234",))

    missing = await client.get(f"/{CAT}?w=50")
    wrong = await client.get(f"/{CAT}?w=50", headers={"X-Origin-Secret": "nope"})
    right = await client.get(f"/{CAT}?w=50", headers={"X-Origin-Secret": "cloudfront-secret-1234"})

    assert (missing.status, wrong.status, right.status) == (403, 403, 200)


PRESETS = {"thumb": "w=200&h=200&fit=cover", "card": "w=400"}


async def test_presets_are_the_same_variant_as_their_options(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str
) -> None:
    client = await proxy_client(presets=PRESETS)

    by_preset = await client.get(f"/{CAT}?preset=thumb&fm=webp")
    by_options = await client.get(f"/{CAT}?w=200&h=200&fit=cover&fm=webp")
    await client.app[VARIANTS].flush()

    assert decode(await by_preset.read()).size == (200, 200)
    assert by_options.headers["X-Cache-Status"] == "HIT-MEMORY"
    assert len(keys_in(s3, bucket, "_variants/")) == 1


async def test_only_presets_refuses_arbitrary_sizes(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(presets=PRESETS, only_presets=True)

    arbitrary = await client.get(f"/{CAT}?w=123")
    preset = await client.get(f"/{CAT}?preset=card")
    unknown = await client.get(f"/{CAT}?preset=huge")

    assert arbitrary.status == 400
    assert (await reason(arbitrary)).startswith("w:")
    assert preset.status == 200
    assert unknown.status == 400


async def test_path_templates_reach_the_same_variant_rendered_once(
    proxy_client: ClientFactory, cat: bytes, s3: Any, bucket: str
) -> None:
    client = await proxy_client(
        presets=PRESETS,
        path_templates=("/processed_images/{w}x{h}/{key}", "/{preset}/{key}"),
        signing_keys=(KEY_A,),
    )

    legacy = await client.get(signed(f"/processed_images/300x300/{CAT}?fm=png"))
    modern = await client.get(signed(f"/{CAT}?w=300&h=300&fm=png"))
    by_preset = await client.get(signed(f"/thumb/{CAT}?fm=png"))
    plain = await client.get(signed(f"/{CAT}"))
    unsigned_legacy = await client.get(f"/processed_images/300x300/{CAT}?fm=png")
    await client.app[VARIANTS].flush()

    assert legacy.status == 200 and legacy.headers["X-Cache-Status"] == "MISS"
    assert modern.headers["X-Cache-Status"] == "HIT-MEMORY"
    assert decode(await by_preset.read()).size == (200, 200)
    assert await plain.read() == cat
    assert unsigned_legacy.status == 403
    assert len(keys_in(s3, bucket, "_variants/")) == 2  # 300x300 contain + thumb


async def test_origin_secrets_rotate_without_downtime(
    proxy_client: ClientFactory, cat: bytes
) -> None:
    client = await proxy_client(
        origin_secrets=("new-cloudfront-secret-99", "old-cloudfront-secret-00")
    )

    for secret in ("new-cloudfront-secret-99", "old-cloudfront-secret-00"):
        response = await client.get(f"/{CAT}?w=50", headers={"X-Origin-Secret": secret})
        assert response.status == 200
    retired = await client.get(f"/{CAT}?w=50", headers={"X-Origin-Secret": "older-secret-0000000"})
    assert retired.status == 403
