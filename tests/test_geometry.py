"""Specification of the resize arithmetic: crop box, output size, canvas, draft size."""

from __future__ import annotations

import pytest

from proxy.geometry import Plan, draft_size, plan
from proxy.options import Fit, ResizeOptions

FITS: tuple[Fit, ...] = ("contain", "cover", "fill", "pad")


def opts(
    w: int | None = None, h: int | None = None, fit: Fit = "contain", enlarge: bool = False
) -> ResizeOptions:
    return ResizeOptions(width=w, height=h, fit=fit, enlarge=enlarge)


# --- no size, one side ---------------------------------------------------------------------


@pytest.mark.parametrize("fit", FITS)
@pytest.mark.parametrize("enlarge", [False, True])
def test_no_size_keeps_the_source_as_is(fit: Fit, enlarge: bool) -> None:
    result = plan(1200, 800, opts(fit=fit, enlarge=enlarge))
    assert result == Plan((1200, 800), (0.0, 0.0, 1200.0, 800.0), (1200, 800))


@pytest.mark.parametrize(
    ("source", "w", "h", "size"),
    [
        ((1200, 800), 400, None, (400, 267)),
        ((1200, 800), None, 200, (300, 200)),
        ((800, 1200), 400, None, (400, 600)),
        ((800, 1200), None, 300, (200, 300)),
        ((1000, 10), 10, None, (10, 1)),  # never below one pixel
        ((10, 1000), None, 1, (1, 1)),
    ],
)
@pytest.mark.parametrize("fit", FITS)
def test_one_side_scales_proportionally_whatever_the_fit(
    source: tuple[int, int], w: int | None, h: int | None, size: tuple[int, int], fit: Fit
) -> None:
    result = plan(*source, opts(w, h, fit))
    assert result.size == size
    assert result.box == (0.0, 0.0, float(source[0]), float(source[1]))
    assert result.canvas is None


# --- contain ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "size"),
    [
        ((1200, 800), (400, 400), (400, 267)),
        ((800, 1200), (400, 400), (267, 400)),
        ((1200, 800), (600, 100), (150, 100)),
        ((1200, 800), (300, 200), (300, 200)),
        ((1000, 999), (500, 500), (500, 500)),
    ],
)
def test_contain_fits_inside_the_box_keeping_aspect(
    source: tuple[int, int], box: tuple[int, int], size: tuple[int, int]
) -> None:
    result = plan(*source, opts(*box, "contain"))
    assert result.size == size
    assert result.box == (0.0, 0.0, float(source[0]), float(source[1]))
    assert result.canvas is None


# --- cover -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "crop", "size"),
    [
        ((1200, 800), (400, 400), (200.0, 0.0, 1000.0, 800.0), (400, 400)),
        ((800, 1200), (400, 400), (0.0, 200.0, 800.0, 1000.0), (400, 400)),
        ((800, 1200), (400, 200), (0.0, 400.0, 800.0, 800.0), (400, 200)),
        ((1200, 800), (300, 200), (0.0, 0.0, 1200.0, 800.0), (300, 200)),
        ((1000, 1000), (100, 300), (1000 / 3, 0.0, 2000 / 3, 1000.0), (100, 300)),
    ],
)
def test_cover_crops_a_centred_box_of_the_requested_aspect(
    source: tuple[int, int],
    box: tuple[int, int],
    crop: tuple[float, float, float, float],
    size: tuple[int, int],
) -> None:
    result = plan(*source, opts(*box, "cover"))
    assert result.size == size
    assert result.box == pytest.approx(crop)
    assert result.canvas is None


def test_cover_crop_stays_inside_the_source() -> None:
    for source in [(1, 1), (7, 3000), (3000, 7), (1234, 567)]:
        for box in [(1, 1), (5000, 3), (3, 5000), (640, 480)]:
            left, top, right, bottom = plan(*source, opts(*box, "cover")).box
            assert 0 <= left <= right <= source[0] + 1e-9
            assert 0 <= top <= bottom <= source[1] + 1e-9
            assert left == pytest.approx(source[0] - right)
            assert top == pytest.approx(source[1] - bottom)


# --- fill ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "size"),
    [
        ((1200, 800), (400, 400), (400, 400)),
        ((1200, 800), (100, 700), (100, 700)),
        ((1200, 800), (1200, 800), (1200, 800)),
    ],
)
def test_fill_stretches_the_whole_source_to_the_box(
    source: tuple[int, int], box: tuple[int, int], size: tuple[int, int]
) -> None:
    result = plan(*source, opts(*box, "fill"))
    assert result.size == size
    assert result.box == (0.0, 0.0, float(source[0]), float(source[1]))
    assert result.canvas is None


# --- pad -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "inner", "offset"),
    [
        ((1200, 800), (400, 400), (400, 267), (0, 66)),
        ((800, 1200), (400, 400), (267, 400), (66, 0)),
        ((1200, 800), (300, 200), (300, 200), (0, 0)),
        ((1000, 500), (301, 301), (301, 150), (0, 75)),
        ((100, 50), (200, 200), (100, 50), (50, 75)),  # small source: centred, not enlarged
    ],
)
def test_pad_centres_the_contained_image_on_an_exact_canvas(
    source: tuple[int, int],
    box: tuple[int, int],
    inner: tuple[int, int],
    offset: tuple[int, int],
) -> None:
    result = plan(*source, opts(*box, "pad"))
    assert result.canvas == box
    assert result.size == inner
    assert result.offset == offset
    assert result.box == (0.0, 0.0, float(source[0]), float(source[1]))


def test_pad_image_always_fits_its_canvas() -> None:
    for source in [(1, 1), (7, 3000), (3000, 7), (1234, 567)]:
        for box in [(1, 1), (5000, 3), (3, 5000), (641, 479)]:
            result = plan(*source, opts(*box, "pad", enlarge=True))
            assert result.canvas == box
            x, y = result.offset
            assert x >= 0 and y >= 0
            assert x + result.size[0] <= box[0] and y + result.size[1] <= box[1]
            assert abs((box[0] - result.size[0]) - 2 * x) <= 1
            assert abs((box[1] - result.size[1]) - 2 * y) <= 1


# --- no upscaling unless enlarge -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fit", "w", "h", "size"),
    [
        ("contain", 400, None, (100, 50)),
        ("contain", None, 400, (100, 50)),
        ("contain", 400, 400, (100, 50)),
        ("cover", 400, 400, (50, 50)),
        ("cover", 300, 100, (100, 33)),
        ("fill", 400, 400, (50, 50)),
        ("fill", 50, 400, (6, 50)),
        ("fill", 200, 50, (100, 25)),
        ("pad", 400, 400, (100, 50)),
    ],
)
def test_small_source_is_never_upscaled_by_default(
    fit: Fit, w: int | None, h: int | None, size: tuple[int, int]
) -> None:
    result = plan(100, 50, opts(w, h, fit))
    assert result.size == size
    assert result.scale <= 1.0
    box_w = result.box[2] - result.box[0]
    box_h = result.box[3] - result.box[1]
    assert result.size[0] <= round(box_w) and result.size[1] <= round(box_h)


@pytest.mark.parametrize(
    ("fit", "w", "h", "size"),
    [
        ("contain", 400, None, (400, 200)),
        ("contain", None, 400, (800, 400)),
        ("contain", 400, 400, (400, 200)),
        ("cover", 400, 400, (400, 400)),
        ("fill", 400, 400, (400, 400)),
        ("pad", 400, 400, (400, 200)),
    ],
)
def test_enlarge_allows_upscaling_to_the_requested_size(
    fit: Fit, w: int | None, h: int | None, size: tuple[int, int]
) -> None:
    result = plan(100, 50, opts(w, h, fit, enlarge=True))
    assert result.size == size
    assert result.scale > 1.0


def test_pad_enlarged_is_centred_on_its_canvas() -> None:
    result = plan(100, 50, opts(400, 400, "pad", enlarge=True))
    assert (result.canvas, result.offset) == ((400, 400), (0, 100))


# --- rounding --------------------------------------------------------------------------


# Sizes where `int(source * (side / source))` falls one pixel short of `side`.
AWKWARD = [(47, 3), (22, 15), (43, 31), (45, 26), (44, 30)]


@pytest.mark.parametrize(("source", "side"), AWKWARD)
@pytest.mark.parametrize("fit", ["contain", "pad"])
def test_limiting_side_is_exact_when_containing(source: int, side: int, fit: Fit) -> None:
    assert plan(source, source * 10, opts(side, side * 20, fit)).size[0] == side
    assert plan(source * 10, source, opts(side * 20, side, fit)).size[1] == side


@pytest.mark.parametrize(("source", "side"), AWKWARD)
def test_limiting_side_is_exact_when_covering(source: int, side: int) -> None:
    assert plan(source, source * 10, opts(side, 1, "cover")).size == (side, 1)
    assert plan(source * 10, source, opts(1, side, "cover")).size == (1, side)


@pytest.mark.parametrize(("source", "side"), AWKWARD)
def test_single_requested_side_is_exact(source: int, side: int) -> None:
    assert plan(source, 999, opts(side, None)).size[0] == side
    assert plan(999, source, opts(None, side)).size[1] == side


def test_free_side_is_rounded_to_nearest_not_truncated() -> None:
    assert plan(1200, 800, opts(400, None)).size == (400, 267)  # 266.67
    assert plan(1200, 800, opts(None, 100)).size == (150, 100)
    assert plan(3000, 1000, opts(None, 100)).size == (300, 100)
    assert plan(999, 1000, opts(None, 100)).size == (100, 100)  # 99.9


# --- scale and draft size ------------------------------------------------------------------


def test_scale_is_output_pixels_per_source_pixel() -> None:
    assert plan(1200, 800, opts(300, None)).scale == pytest.approx(0.25)
    assert plan(1200, 800, opts(400, 400, "cover")).scale == pytest.approx(0.5)
    assert plan(100, 50, opts(200, None, enlarge=True)).scale == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("source", "options", "gap", "draft"),
    [
        ((1200, 800), opts(300, None), 2.0, (600, 400)),
        ((1200, 800), opts(300, None), 1.0, (300, 200)),
        ((1200, 800), opts(150, None), 4.0, (600, 400)),
        ((1200, 800), opts(400, 400, "cover"), 2.0, (1200, 800)),
        ((1200, 800), opts(200, 200, "cover"), 2.0, (600, 400)),
        ((1200, 800), opts(200, 200, "pad"), 2.0, (400, 267)),
        ((4000, 3000), opts(100, None), 2.0, (200, 150)),
    ],
)
def test_draft_size_is_the_whole_source_at_output_scale_times_the_gap(
    source: tuple[int, int], options: ResizeOptions, gap: float, draft: tuple[int, int]
) -> None:
    assert draft_size(plan(*source, options), gap) == draft


@pytest.mark.parametrize(
    "options", [opts(), opts(900, None), opts(2400, None, enlarge=True), opts(1200, 800, "fill")]
)
def test_draft_size_never_exceeds_the_source(options: ResizeOptions) -> None:
    assert draft_size(plan(1200, 800, options)) == (1200, 800)


@pytest.mark.parametrize(
    "options",
    [
        opts(400, 1000, "contain"),
        opts(400, 1000, "cover"),
        opts(400, 1000, "pad"),
        opts(400, None),
        opts(None, 17),
    ],
)
def test_draft_size_leaves_the_reducing_gap_on_both_axes(options: ResizeOptions) -> None:
    result = plan(4000, 1000, options)
    draft = draft_size(result)
    scale_x = result.size[0] / (result.box[2] - result.box[0])
    scale_y = result.size[1] / (result.box[3] - result.box[1])
    assert draft[0] >= min(4000, 2 * scale_x * 4000) - 1
    assert draft[1] >= min(1000, 2 * scale_y * 1000) - 1


def test_draft_size_is_never_smaller_than_the_output_for_fill() -> None:
    # 4000x1000 filled to 400x1000: x scale 0.1, y scale 1.0.
    result = plan(4000, 1000, opts(400, 1000, "fill"))
    assert result.size == (400, 1000)
    width, height = draft_size(result)
    assert width >= 400
    assert height >= 1000
