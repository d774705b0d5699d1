"""Specification of URL options: parsing, validation, canonical names, Accept negotiation."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import BadOption, BadRequest
from proxy.options import ResizeOptions, negotiate_format, parse_options

MAX = 5000


def pairs(text: str) -> list[tuple[str, str]]:
    """'w=200&fm=jpg' -> [('w', '200'), ('fm', 'jpg')] (no decoding: values are literal)."""
    if not text:
        return []
    return [tuple(pair.split("=", 1)) for pair in text.split("&")]  # type: ignore[misc]


def parse(text: str, max_dimension: int = MAX) -> ResizeOptions | None:
    return parse_options(pairs(text), max_dimension=max_dimension)


def canonical(text: str, max_dimension: int = MAX) -> str:
    options = parse(text, max_dimension)
    assert options is not None
    return options.canonical


# --- no options ------------------------------------------------------------------------


def test_empty_query_means_serve_the_original() -> None:
    assert parse_options([], max_dimension=MAX) is None


def test_any_iterable_of_pairs_is_accepted() -> None:
    assert parse_options(iter([]), max_dimension=MAX) is None
    assert parse_options(iter([("w", "10")]), max_dimension=MAX) == ResizeOptions(width=10)


# --- valid values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("w=400", {"width": 400, "height": None}),
        ("h=300", {"width": None, "height": 300}),
        ("w=1", {"width": 1}),
        (f"w={MAX}", {"width": MAX}),
        (f"h={MAX}", {"height": MAX}),
        ("w=400&h=300", {"width": 400, "height": 300, "fit": "contain"}),
        ("w=400&h=300&fit=contain", {"fit": "contain"}),
        ("w=400&h=300&fit=cover", {"fit": "cover"}),
        ("w=400&h=300&fit=fill", {"fit": "fill"}),
        ("w=400&h=300&fit=pad", {"fit": "pad"}),
        ("fm=jpeg", {"format": "jpeg"}),
        ("fm=jpg", {"format": "jpeg"}),
        ("fm=JPG", {"format": "jpeg"}),
        ("fm=png", {"format": "png"}),
        ("fm=webp", {"format": "webp"}),
        ("fm=WebP", {"format": "webp"}),
        ("fm=avif", {"format": "avif"}),
        ("fm=gif", {"format": "gif"}),
        ("q=1", {"quality": 1}),
        ("q=75", {"quality": 75}),
        ("q=100", {"quality": 100}),
        ("fm=jpeg&q=80", {"format": "jpeg", "quality": 80}),
        ("w=100&dpr=1", {"width": 100}),
        ("w=100&dpr=1.5", {"width": 150}),
        ("w=100&dpr=2", {"width": 200}),
        ("w=100&dpr=2.0", {"width": 200}),
        ("w=100&dpr=1.25", {"width": 125}),
        ("w=100&dpr=4", {"width": 400}),
        ("h=100&dpr=3", {"height": 300}),
        ("w=100&h=50&dpr=2", {"width": 200, "height": 100}),
        ("dpr=1", {"width": None, "height": None}),
        ("bg=ff8800", {"background": "ff8800"}),
        ("bg=FF8800", {"background": "ff8800"}),
        ("bg=fff", {"background": "ffffff"}),
        ("bg=A1c", {"background": "aa11cc"}),
        ("bg=000000", {"background": "000000"}),
        ("enlarge=0", {"enlarge": False}),
        ("w=10&enlarge=1", {"enlarge": True}),
        ("enlarge=1", {"enlarge": False}),  # nothing to enlarge without a size
        ("w=10", {"fit": "contain", "format": None, "quality": None, "background": "ffffff"}),
    ],
)
def test_valid_parameter_values(query: str, expected: dict[str, Any]) -> None:
    options = parse(query)
    assert options is not None
    assert {name: getattr(options, name) for name in expected} == expected


def test_max_dimension_bounds_width_and_height() -> None:
    assert parse("w=100&h=100", max_dimension=100) == ResizeOptions(width=100, height=100)
    with pytest.raises(BadOption) as exc:
        parse("w=101", max_dimension=100)
    assert exc.value.param == "w"


# --- invalid values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "param"),
    [
        # w / h: whole ASCII numbers from 1 to max_dimension
        ("w=0", "w"),
        ("w=-1", "w"),
        ("w=+400", "w"),
        ("w=abc", "w"),
        ("w=", "w"),
        ("w=1.5", "w"),
        ("w=1e3", "w"),
        ("w=400px", "w"),
        ("w= 400", "w"),
        ("w=0x10", "w"),
        ("w=\u0664\u0660\u0660", "w"),  # Arabic-Indic digits
        (f"w={MAX + 1}", "w"),
        ("w=1234567", "w"),
        ("h=0", "h"),
        ("h=abc", "h"),
        ("h=", "h"),
        (f"h={MAX + 1}", "h"),
        # fit: one of four, exact spelling
        ("w=1&h=1&fit=crop", "fit"),
        ("w=1&h=1&fit=Cover", "fit"),
        ("w=1&h=1&fit=", "fit"),
        ("w=1&h=1&fit=scale-down", "fit"),
        # fm: known formats only
        ("fm=tiff", "fm"),
        ("fm=bmp", "fm"),
        ("fm=svg", "fm"),
        ("fm=jpe", "fm"),
        ("fm=", "fm"),
        ("fm=auto", "fm"),
        # q: 1..100
        ("q=0", "q"),
        ("q=101", "q"),
        ("q=-5", "q"),
        ("q=50.5", "q"),
        ("q=high", "q"),
        ("q=", "q"),
        # dpr: 1..4 with at most two decimals, and only with a size
        ("w=1&dpr=0", "dpr"),
        ("w=1&dpr=0.5", "dpr"),
        ("w=1&dpr=4.01", "dpr"),
        ("w=1&dpr=5", "dpr"),
        ("w=1&dpr=10", "dpr"),
        ("w=1&dpr=1.234", "dpr"),
        ("w=1&dpr=.5", "dpr"),
        ("w=1&dpr=1.", "dpr"),
        ("w=1&dpr=2x", "dpr"),
        ("w=1&dpr=abc", "dpr"),
        ("w=1&dpr=", "dpr"),
        ("dpr=2", "dpr"),
        ("fm=webp&dpr=1.5", "dpr"),
        # bg: 3 or 6 hex digits, no '#'
        ("bg=ff", "bg"),
        ("bg=ffff", "bg"),
        ("bg=fffffff", "bg"),
        ("bg=ff880080", "bg"),
        ("bg=ggg", "bg"),
        ("bg=#fff", "bg"),
        ("bg=red", "bg"),
        ("bg=", "bg"),
        # enlarge: 0 or 1
        ("enlarge=true", "enlarge"),
        ("enlarge=yes", "enlarge"),
        ("enlarge=2", "enlarge"),
        ("enlarge=01", "enlarge"),
        ("enlarge=", "enlarge"),
    ],
)
def test_malformed_or_out_of_range_value_names_its_parameter(query: str, param: str) -> None:
    with pytest.raises(BadOption) as exc:
        parse(query)
    assert exc.value.param == param


@pytest.mark.parametrize("name", ["width", "W", "format", "quality", "crop", "x", ""])
def test_unknown_parameter_is_refused_by_name(name: str) -> None:
    with pytest.raises(BadOption) as exc:
        parse_options([("w", "200"), (name, "1")], max_dimension=MAX)
    assert exc.value.param == name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("w", "200"),
        ("h", "200"),
        ("fit", "cover"),
        ("fm", "webp"),
        ("q", "80"),
        ("dpr", "2"),
        ("bg", "fff"),
        ("enlarge", "1"),
    ],
)
def test_repeated_parameter_is_refused_even_with_the_same_value(name: str, value: str) -> None:
    query = [("w", "10"), ("h", "10"), (name, value), (name, value)]
    with pytest.raises(BadOption) as exc:
        parse_options(query, max_dimension=MAX)
    assert exc.value.param == name


def test_bad_option_is_a_400_bad_request() -> None:
    with pytest.raises(BadRequest) as exc:
        parse("w=nope")
    assert exc.value.status == 400
    assert "w" in exc.value.message


# --- equivalent URLs share one canonical string ------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("w=400&h=300&fit=cover&fm=webp", "fm=webp&fit=cover&h=300&w=400"),
        ("w=200&fm=jpg", "w=200&fm=jpeg"),
        ("w=200&fm=JPEG", "w=200&fm=jpeg"),
        ("w=200&dpr=2", "w=400"),
        ("w=200&h=100&dpr=1.5", "w=300&h=150"),
        ("h=120&dpr=2.5", "h=300"),
        ("w=200&dpr=1", "w=200"),
        ("w=200&dpr=1.00", "w=200"),
        ("w=200&fit=cover", "w=200"),
        ("w=200&fit=fill", "w=200"),
        ("h=200&fit=pad", "h=200"),
        ("h=200&fit=contain", "h=200"),
        ("w=200&fm=png&q=80", "w=200&fm=png"),
        ("w=200&fm=gif&q=10", "w=200&fm=gif"),
        ("w=200&bg=FFF", "w=200"),
        ("w=200&bg=ABC", "w=200&bg=aabbcc"),
        ("w=200&fm=webp&bg=000", "w=200&fm=webp"),
        ("w=200&fm=png&bg=123456", "w=200&fm=png"),
        ("w=200&h=200&fit=cover&fm=avif&bg=000", "w=200&h=200&fit=cover&fm=avif"),
        ("w=200&enlarge=0", "w=200"),
        ("w=3000&dpr=2", "w=5000"),
    ],
)
def test_equivalent_queries_share_one_canonical_string(first: str, second: str) -> None:
    assert canonical(first) == canonical(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("w=200", "w=201"),
        ("w=200", "h=200"),
        ("w=200&h=100", "w=200&h=100&fit=cover"),
        ("w=200&h=100&fit=fill", "w=200&h=100&fit=pad"),
        ("w=200&fm=webp", "w=200&fm=avif"),
        ("w=200&fm=webp", "w=200"),
        ("w=200&fm=jpeg&q=80", "w=200&fm=jpeg"),
        ("w=200&fm=webp&q=80", "w=200&fm=webp&q=81"),
        ("w=200&q=80", "w=200"),
        ("w=200&fm=jpeg&bg=000", "w=200&fm=jpeg"),
        ("w=200&bg=000", "w=200"),
        ("w=200&h=200&fit=pad&fm=png&bg=000", "w=200&h=200&fit=pad&fm=png"),
        ("w=200&enlarge=1", "w=200"),
    ],
)
def test_different_variants_get_different_canonical_strings(first: str, second: str) -> None:
    assert canonical(first) != canonical(second)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ResizeOptions(), "fit=contain&fm=auto&bg=ffffff"),
        (ResizeOptions(width=400), "w=400&fit=contain&fm=auto&bg=ffffff"),
        (ResizeOptions(height=300, format="png"), "h=300&fit=contain&fm=png&bg=ffffff"),
        (
            ResizeOptions(400, 300, "pad", "webp", 80, "ff8800", enlarge=True),
            "w=400&h=300&fit=pad&fm=webp&q=80&bg=ff8800&enlarge=1",
        ),
    ],
)
def test_canonical_string_is_stable_and_readable(options: ResizeOptions, expected: str) -> None:
    assert options.canonical == expected


def test_canonical_string_with_explicit_format_parses_back_to_the_same_options() -> None:
    options = parse("fm=jpg&q=70&dpr=2&h=150&w=200&fit=pad&bg=F80&enlarge=1")
    assert options is not None
    assert options.canonical == "w=400&h=300&fit=pad&fm=jpeg&q=70&bg=ff8800&enlarge=1"
    assert parse(options.canonical) == options


# --- with_format keeps the canonical rules --------------------------------------------


def test_with_format_drops_quality_for_lossless_formats() -> None:
    options = parse("w=200&q=80")
    assert options is not None
    assert options.with_format("png").quality is None
    assert options.with_format("webp").quality == 80


def test_with_format_resets_irrelevant_background() -> None:
    options = parse("w=200&bg=000")
    assert options is not None
    assert options.with_format("avif").background == "ffffff"
    assert options.with_format("jpeg").background == "000000"
    padded = parse("w=200&h=200&fit=pad&bg=000")
    assert padded is not None
    assert padded.with_format("avif").background == "000000"


def test_with_format_none_on_auto_options_changes_nothing() -> None:
    options = parse("w=200&q=80&bg=000")
    assert options is not None
    assert options.with_format(None) is options


# --- dpr never pushes a side past max_dimension ----------------------------------------


@pytest.mark.parametrize(
    ("query", "size"),
    [
        ("w=600&dpr=2", (1000, None)),
        ("h=999&dpr=4", (None, 1000)),
        ("w=1000&dpr=2", (1000, None)),
        ("w=600&h=300&dpr=2", (1000, 500)),
        ("w=100&h=800&dpr=4", (125, 1000)),
        ("w=400&h=500&dpr=2", (800, 1000)),
        ("w=400&h=400&dpr=2", (800, 800)),
    ],
)
def test_dpr_is_clamped_evenly_to_max_dimension(
    query: str, size: tuple[int | None, int | None]
) -> None:
    options = parse(query, max_dimension=1000)
    assert options is not None
    assert (options.width, options.height) == size


@pytest.mark.parametrize("dpr", ["1.5", "2", "2.75", "3.33", "4"])
@pytest.mark.parametrize(("w", "h"), [(1, 1), (333, 4999), (4999, 7), (2500, 2500), (5000, 1)])
def test_dpr_never_yields_a_side_over_max_dimension(w: int, h: int, dpr: str) -> None:
    options = parse(f"w={w}&h={h}&dpr={dpr}")
    assert options is not None
    assert options.width is not None and options.height is not None
    assert 1 <= options.width <= MAX
    assert 1 <= options.height <= MAX
    assert options.width >= w and options.height >= h


# --- Accept negotiation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, None),
        ("", None),
        ("image/avif", "avif"),
        ("image/webp", "webp"),
        ("image/avif,image/webp,*/*", "avif"),
        ("image/webp,image/avif", "avif"),
        ("image/avif;q=0.5,image/webp;q=1.0", "avif"),
        ("image/webp,*/*", "webp"),
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "avif"),
        ("image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5", "webp"),
        ("image/avif;q=0,image/webp", "webp"),
        ("image/avif;q=0.0,image/webp;q=0.000", None),
        ("image/avif;q=0.001", "avif"),
        ("image/avif;q=bogus,image/webp", "webp"),
        ("image/avif;level=1;q=0,image/webp", "webp"),
        ("IMAGE/AVIF", "avif"),
        ("  image/webp ; q=0.9 , text/html", "webp"),
        ("*/*", None),
        ("image/*", None),
        ("image/*,*/*;q=0.8", None),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None),
        ("image/png,image/jpeg", None),
        ("image/avifx,image/webp2", None),
    ],
)
def test_negotiate_format(accept: str | None, expected: str | None) -> None:
    assert negotiate_format(accept) == expected
