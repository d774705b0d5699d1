"""Specification of signed URLs (`proxy.signing`): what is signed, how, and what is refused.

The string to sign is `METHOD\\nCANONICAL PATH\\nCANONICAL QUERY`; the signature is
HMAC-SHA256 of it, base64url without padding, carried in `s`. `exp` is signed like
any other parameter and then checked against the clock. Every configured key
verifies; only the first one signs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from proxy.errors import Forbidden
from proxy.signing import sign, signature, string_to_sign, verify

Pairs = list[tuple[str, str]]

KEY = "test-vector-key-0123456789"
OLD_KEY = "old-rotated-key-abcdefghij"
OTHER_KEY = "someone-elses-key-zyxwvuts"
NOW = 1_700_000_000


# --- the string to sign ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "pairs", "expected"),
    [
        pytest.param("GET", "/cat.jpg", [], "GET\n/cat.jpg\n", id="no-query"),
        pytest.param("GET", "/cat.jpg", [("w", "400")], "GET\n/cat.jpg\nw=400", id="one-param"),
        pytest.param("HEAD", "/cat.jpg", [("w", "400")], "GET\n/cat.jpg\nw=400", id="head-as-get"),
        pytest.param("get", "/cat.jpg", [], "GET\n/cat.jpg\n", id="method-upper-cased"),
        pytest.param("head", "/cat.jpg", [], "GET\n/cat.jpg\n", id="lower-head-as-get"),
        pytest.param("PUT", "/up/cat.jpg", [], "PUT\n/up/cat.jpg\n", id="put"),
        pytest.param("DELETE", "/cat.jpg", [], "DELETE\n/cat.jpg\n", id="delete"),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("s", "anything"), ("w", "400"), ("s", "more")],
            "GET\n/cat.jpg\nw=400",
            id="s-excluded",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("w", "400"), ("exp", "1700000000")],
            "GET\n/cat.jpg\nexp=1700000000&w=400",
            id="exp-signed-like-any-param",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("w", "9"), ("h", "5"), ("w", "10"), ("fm", "webp")],
            "GET\n/cat.jpg\nfm=webp&h=5&w=10&w=9",
            id="sorted-by-name-then-value",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("a-b", "1"), ("a", "2")],
            # Sorted as (name, value) pairs, not as "name=value" strings ('-' < '=').
            "GET\n/cat.jpg\na=2&a-b=1",
            id="name-prefix-sorts-first",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("w", "B"), ("W", "a")],
            "GET\n/cat.jpg\nW=a&w=B",
            id="sort-is-by-code-point",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("enlarge", "")],
            "GET\n/cat.jpg\nenlarge=",
            id="empty-value-kept",
        ),
        pytest.param(
            "GET",
            "/a b/c+d/e%f/g~h-i_j.k/l:m@n!o;p=q,r&s$t'u(v)w*x",
            [],
            "GET\n/a%20b/c%2Bd/e%25f/g~h-i_j.k/l%3Am%40n%21o%3Bp%3Dq%2Cr%26s%24t%27u%28v%29w%2Ax\n",
            id="path-only-unreserved-and-slash-left",
        ),
        pytest.param(
            "GET",
            "/cat.jpg",
            [("bg", "#fff"), ("x y", "a/b=c&d+e~f")],
            "GET\n/cat.jpg\nbg=%23fff&x%20y=a%2Fb%3Dc%26d%2Be~f",
            id="query-slash-and-reserved-encoded",
        ),
        pytest.param(
            "GET",
            "/été/猫.jpg",
            [("tag", "ü")],
            "GET\n/%C3%A9t%C3%A9/%E7%8C%AB.jpg\ntag=%C3%BC",
            id="non-ascii-as-utf8",
        ),
        pytest.param(
            "GET",
            "/Straße/😀.png",
            [],
            "GET\n/Stra%C3%9Fe/%F0%9F%98%80.png\n",
            id="non-bmp-as-four-bytes",
        ),
    ],
)
def test_string_to_sign(method: str, path: str, pairs: Pairs, expected: str) -> None:
    assert string_to_sign(method, path, pairs) == expected


def test_string_to_sign_does_not_depend_on_parameter_order() -> None:
    pairs = [("w", "400"), ("h", "300"), ("fit", "cover"), ("exp", "1")]
    assert string_to_sign("GET", "/cat.jpg", pairs) == string_to_sign(
        "GET", "/cat.jpg", list(reversed(pairs))
    )


# --- a fixed test vector --------------------------------------------------------------

# Computed independently of the proxy, with the shell:
#
#   KEY='test-vector-key-0123456789'
#   STRING=$'GET\n/photos/%C3%A9t%C3%A9%202024/cat%2Bdog.jpg\nexp=1700000000&fit=cover&fm=webp&h=300&w=400'
#   printf '%s' "$STRING" | openssl dgst -sha256 -hmac "$KEY" -binary \
#       | base64 | tr '+/' '-_' | tr -d '='
VECTOR_PATH = "/photos/été 2024/cat+dog.jpg"
VECTOR_PAIRS = [("w", "400"), ("h", "300"), ("fit", "cover"), ("fm", "webp")]
VECTOR_EXPIRES = 1_700_000_000
VECTOR_STRING = (
    "GET\n/photos/%C3%A9t%C3%A9%202024/cat%2Bdog.jpg\nexp=1700000000&fit=cover&fm=webp&h=300&w=400"
)
VECTOR_SIGNATURE = "BaJBZgoNaXSy_l7B1CEagk38JqE2QZO7MA9Q2Zapcqc"


def test_fixed_vector_string_to_sign() -> None:
    pairs = [*VECTOR_PAIRS, ("exp", str(VECTOR_EXPIRES))]
    assert string_to_sign("GET", VECTOR_PATH, pairs) == VECTOR_STRING


def test_fixed_vector_signature() -> None:
    pairs = [*VECTOR_PAIRS, ("exp", str(VECTOR_EXPIRES))]
    assert signature(KEY, "GET", VECTOR_PATH, pairs) == VECTOR_SIGNATURE


def test_fixed_vector_head_signs_as_get() -> None:
    pairs = [*VECTOR_PAIRS, ("exp", str(VECTOR_EXPIRES))]
    assert signature(KEY, "HEAD", VECTOR_PATH, pairs) == VECTOR_SIGNATURE


def test_fixed_vector_signed_url() -> None:
    url = sign(KEY, "GET", VECTOR_PATH, VECTOR_PAIRS, expires_at=VECTOR_EXPIRES)

    assert url == (
        "/photos/%C3%A9t%C3%A9%202024/cat%2Bdog.jpg"
        f"?w=400&h=300&fit=cover&fm=webp&exp=1700000000&s={VECTOR_SIGNATURE}"
    )


def test_fixed_vector_verifies_until_it_expires() -> None:
    pairs = [*VECTOR_PAIRS, ("exp", str(VECTOR_EXPIRES)), ("s", VECTOR_SIGNATURE)]

    verify([KEY], "GET", VECTOR_PATH, pairs, now=VECTOR_EXPIRES - 1)
    with pytest.raises(Forbidden, match=r"^signature expired$"):
        verify([KEY], "GET", VECTOR_PATH, pairs, now=VECTOR_EXPIRES + 1)


def test_signature_is_base64url_without_padding() -> None:
    for n in range(50):
        sig = signature(KEY, "GET", f"/{n}.jpg", [("w", str(n))])
        assert len(sig) == 43  # 32 bytes -> 43 base64 characters without '='
        assert set(sig) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- sign -----------------------------------------------------------------------------


def test_sign_replaces_any_given_signature_and_expiry() -> None:
    clean = sign(KEY, "GET", "/cat.jpg", [("w", "400")], expires_at=NOW)
    dirty = sign(KEY, "GET", "/cat.jpg", [("s", "old"), ("w", "400"), ("exp", "1")], expires_at=NOW)
    assert dirty == clean


def test_sign_without_expiry_has_no_exp() -> None:
    url = sign(KEY, "GET", "/cat.jpg", [("w", "400"), ("exp", "1")])
    assert url == f"/cat.jpg?w=400&s={signature(KEY, 'GET', '/cat.jpg', [('w', '400')])}"


# --- verify ---------------------------------------------------------------------------

PATH = "/photos/cat.jpg"
PARAMS = [("w", "400"), ("fm", "webp")]
EXPIRES = NOW + 600


def signed(
    key: str = KEY,
    method: str = "GET",
    path: str = PATH,
    params: Sequence[tuple[str, str]] = PARAMS,
    expires: int | None = EXPIRES,
) -> Pairs:
    """The query pairs of a URL signed by `sign` (exp and s appended)."""
    pairs = list(params)
    if expires is not None:
        pairs.append(("exp", str(expires)))
    pairs.append(("s", signature(key, method, path, pairs)))
    return pairs


def replaced(pairs: Pairs, name: str, value: str) -> Pairs:
    return [(n, value if n == name else v) for n, v in pairs]


def test_valid_signature_passes() -> None:
    verify([KEY], "GET", PATH, signed(), now=NOW)  # returns, raises nothing


def test_valid_signature_without_expiry_passes_forever() -> None:
    verify([KEY], "GET", PATH, signed(expires=None), now=10**12)


def test_parameter_order_does_not_matter() -> None:
    verify([KEY], "GET", PATH, list(reversed(signed())), now=NOW)


def test_head_is_allowed_with_a_get_signature() -> None:
    verify([KEY], "HEAD", PATH, signed(method="GET"), now=NOW)


def test_put_signature_passes_for_put() -> None:
    verify([KEY], "PUT", PATH, signed(method="PUT", params=[]), now=NOW)


def test_valid_until_the_expiry_second_itself() -> None:
    verify([KEY], "GET", PATH, signed(), now=EXPIRES)


@pytest.mark.parametrize(
    ("method", "path", "pairs", "reason"),
    [
        pytest.param("GET", PATH, PARAMS, "signature required", id="missing"),
        pytest.param("GET", PATH, [], "signature required", id="missing-no-query"),
        pytest.param(
            "GET",
            PATH,
            [*signed(), ("s", signed()[-1][1])],
            "signature given more than once",
            id="repeated-even-if-valid",
        ),
        pytest.param(
            "GET", PATH, signed(key=OTHER_KEY), "invalid signature", id="signed-by-another-key"
        ),
        pytest.param(
            "GET", PATH, replaced(signed(), "s", "A" * 43), "invalid signature", id="wrong"
        ),
        pytest.param("GET", PATH, replaced(signed(), "s", ""), "invalid signature", id="empty"),
        pytest.param(
            "GET",
            PATH,
            replaced(signed(), "s", signed()[-1][1] + "="),
            "invalid signature",
            id="padded",
        ),
        pytest.param(
            "GET",
            PATH,
            replaced(signed(), "s", signed()[-1][1][:-1]),
            "invalid signature",
            id="truncated",
        ),
        pytest.param("GET", "/photos/dog.jpg", signed(), "invalid signature", id="tampered-path"),
        pytest.param("GET", "/photos/cat.jpg/", signed(), "invalid signature", id="trailing-slash"),
        pytest.param(
            "GET",
            PATH,
            replaced(signed(), "w", "4000"),
            "invalid signature",
            id="tampered-query-value",
        ),
        pytest.param(
            "GET", PATH, [*signed(), ("h", "300")], "invalid signature", id="added-parameter"
        ),
        pytest.param(
            "GET",
            PATH,
            [p for p in signed() if p[0] != "fm"],
            "invalid signature",
            id="removed-parameter",
        ),
        pytest.param(
            "GET", PATH, [*signed(), ("w", "400")], "invalid signature", id="repeated-parameter"
        ),
        pytest.param(
            "GET",
            PATH,
            replaced(signed(), "exp", str(EXPIRES + 86400)),
            "invalid signature",
            id="extended-expiry",
        ),
        pytest.param(
            "GET",
            PATH,
            [p for p in signed() if p[0] != "exp"],
            "invalid signature",
            id="expiry-removed",
        ),
        pytest.param("PUT", PATH, signed(method="GET"), "invalid signature", id="get-used-for-put"),
        pytest.param(
            "DELETE", PATH, signed(method="GET"), "invalid signature", id="get-used-for-delete"
        ),
        pytest.param("GET", PATH, signed(method="PUT"), "invalid signature", id="put-used-for-get"),
        pytest.param(
            "DELETE", PATH, signed(method="PUT"), "invalid signature", id="put-used-for-delete"
        ),
        pytest.param(
            "GET", PATH, signed(expires=NOW - 1), "signature expired", id="expired-a-second-ago"
        ),
        pytest.param("GET", PATH, signed(expires=0), "signature expired", id="expired-long-ago"),
    ],
)
def test_refused(method: str, path: str, pairs: Pairs, reason: str) -> None:
    with pytest.raises(Forbidden) as caught:
        verify([KEY], method, path, pairs, now=NOW)

    assert caught.value.message == reason
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "exp",
    [
        "abc",
        "",
        "-5",
        "+1700000600",
        " 1700000600",
        "1700000600.5",
        "1e10",
        "0x65",
        pytest.param(
            "²",
            id="superscript-two",
        ),
        pytest.param(
            "١٧٠٠٠٠٠٦٠٠",
            id="arabic-indic-digits",
        ),
    ],
)
def test_non_numeric_expiry_is_refused_even_when_signed(exp: str) -> None:
    pairs = [*PARAMS, ("exp", exp)]
    pairs.append(("s", signature(KEY, "GET", PATH, pairs)))

    with pytest.raises(Forbidden, match=r"^invalid expiry$"):
        verify([KEY], "GET", PATH, pairs, now=NOW)


def test_repeated_expiry_is_refused_even_when_signed() -> None:
    pairs = [*PARAMS, ("exp", str(EXPIRES)), ("exp", str(EXPIRES))]
    pairs.append(("s", signature(KEY, "GET", PATH, pairs)))

    with pytest.raises(Forbidden, match=r"^invalid expiry$"):
        verify([KEY], "GET", PATH, pairs, now=NOW)


@pytest.mark.parametrize(
    "bad",
    [
        "é" * 43,
        "\ufffd",  # what aiohttp makes of an undecodable %ff
        "猫",
        "😀",
    ],
)
def test_non_ascii_signature_is_forbidden_not_a_type_error(bad: str) -> None:
    with pytest.raises(Forbidden, match=r"^invalid signature$"):
        verify([KEY], "GET", PATH, replaced(signed(), "s", bad), now=NOW)


def test_valid_signature_with_one_character_made_non_ascii_is_forbidden() -> None:
    pairs = signed()
    sig = pairs[-1][1]
    with pytest.raises(Forbidden, match=r"^invalid signature$"):
        verify([KEY], "GET", PATH, replaced(pairs, "s", sig[:-1] + "é"), now=NOW)


def test_no_keys_verifies_nothing() -> None:
    with pytest.raises(Forbidden, match=r"^invalid signature$"):
        verify([], "GET", PATH, signed(), now=NOW)


def test_signature_is_checked_before_expiry() -> None:
    """A forged URL learns nothing about expiry: it is just an invalid signature."""
    pairs = replaced(signed(expires=NOW - 1), "s", signed(key=OTHER_KEY)[-1][1])
    with pytest.raises(Forbidden, match=r"^invalid signature$"):
        verify([KEY], "GET", PATH, pairs, now=NOW)


def test_verifies_what_sign_produced_once_decoded() -> None:
    """`sign` output, decoded the way aiohttp decodes a request, verifies."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    path = "/photos/été 2024/cat+dog & co.jpg"
    url = sign(KEY, "GET", path, [("w", "400"), ("bg", "f80")], expires_at=EXPIRES)
    parts = urlsplit(url)

    verify([KEY], "GET", unquote(parts.path), parse_qsl(parts.query), now=NOW)


# --- key rotation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        [OLD_KEY],
        [KEY, OLD_KEY],
        [OLD_KEY, KEY],
        [KEY, OLD_KEY, OTHER_KEY],
    ],
    ids=["only", "last", "first", "middle"],
)
def test_old_key_verifies_while_still_listed(keys: list[str]) -> None:
    verify(keys, "GET", PATH, signed(key=OLD_KEY), now=NOW)


def test_old_key_fails_once_removed() -> None:
    pairs = signed(key=OLD_KEY)
    verify([KEY, OLD_KEY], "GET", PATH, pairs, now=NOW)

    with pytest.raises(Forbidden, match=r"^invalid signature$"):
        verify([KEY], "GET", PATH, pairs, now=NOW)


def test_new_key_verifies_alongside_the_old_one() -> None:
    verify([KEY, OLD_KEY], "GET", PATH, signed(key=KEY), now=NOW)
    verify([OLD_KEY, KEY], "GET", PATH, signed(key=KEY), now=NOW)
