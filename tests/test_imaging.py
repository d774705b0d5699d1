"""The imaging pipeline, step by step and end to end, on images the tests make.

Colours are compared as the mean of a patch well inside a region, per channel,
within a stated tolerance: LOSSLESS for PNG, LOSSY for JPEG/WebP/AVIF.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from proxy import imaging
from proxy.errors import PayloadTooLarge, ProxyError, Unprocessable, UnsupportedMediaType
from proxy.imaging import Limits, SourceInfo, Work
from proxy.options import ResizeOptions
from tests import hostile
from tests.images import decode, encode, photo

LIMITS = Limits(max_pixels=50_000_000)
LOSSLESS = 2
LOSSY = 24
STEPS = dict(imaging.PIPELINE)

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
TOLERANCE = {"png": LOSSLESS, "jpeg": LOSSY, "webp": LOSSY, "avif": LOSSY}
PIL_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF", "gif": "GIF"}


@pytest.fixture(autouse=True)
def _restore_pil_pixel_limit() -> Iterator[None]:
    """`open_header` sets PIL's global bomb limit; keep it from leaking into other tests."""
    saved = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = saved


# --- helpers ------------------------------------------------------------------


def render(data: bytes, limits: Limits = LIMITS, **options: Any) -> Image.Image:
    rendered = imaging.render(data, ResizeOptions(**options), limits)
    image = decode(rendered.body)
    assert image.size == (rendered.width, rendered.height)
    if options.get("format"):
        assert image.format == PIL_NAMES[options["format"]]
    return image


def run_steps(work: Work, *names: str) -> None:
    for name in names:
        STEPS[name](work)


def mean(image: Image.Image, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    """Mean colour of `box`, given as fractions (left, top, right, bottom) of the image."""
    w, h = image.size
    left, top, right, bottom = box
    patch = image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    return tuple(ImageStat.Stat(patch).mean)


def assert_colour(actual: tuple[float, ...], expected: tuple[int, ...], tolerance: int) -> None:
    assert len(actual) == len(expected), (actual, expected)
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (
        f"{tuple(round(a) for a in actual)} is not {expected} within {tolerance}"
    )


def stripes(
    width: int, height: int, colours: tuple[tuple[int, ...], ...], mode: str = "RGB"
) -> Image.Image:
    """Equal vertical stripes, left to right."""
    image = Image.new(mode, (width, height))
    step = width // len(colours)
    for i, colour in enumerate(colours):
        image.paste(
            colour, (i * step, 0, width if i == len(colours) - 1 else (i + 1) * step, height)
        )
    return image


def quadrants(width: int, height: int) -> Image.Image:
    """Red top left, green top right, blue bottom left, yellow bottom right."""
    image = Image.new("RGB", (width, height))
    for colour, (x, y) in ((RED, (0, 0)), (GREEN, (1, 0)), (BLUE, (0, 1)), (YELLOW, (1, 1))):
        image.paste(
            colour, (x * width // 2, y * height // 2, (x + 1) * width // 2, (y + 1) * height // 2)
        )
    return image


CORNERS = {  # patches well inside each quadrant
    "top left": (0.05, 0.05, 0.4, 0.4),
    "top right": (0.6, 0.05, 0.95, 0.4),
    "bottom left": (0.05, 0.6, 0.4, 0.95),
    "bottom right": (0.6, 0.6, 0.95, 0.95),
}
UPRIGHT = {"top left": RED, "top right": GREEN, "bottom left": BLUE, "bottom right": YELLOW}


def assert_upright_quadrants(image: Image.Image, tolerance: int) -> None:
    rgb = image.convert("RGB")
    for corner, box in CORNERS.items():
        assert_colour(mean(rgb, box), UPRIGHT[corner], tolerance)


# --- fit modes ------------------------------------------------------------------

#: 1200x400: red | green | blue, 400 px each.
STRIPES = encode(stripes(1200, 400, (RED, GREEN, BLUE)), "PNG")


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({}, (1200, 400)),
        ({"width": 300}, (300, 100)),
        ({"height": 200}, (600, 200)),
        ({"width": 300, "height": 300, "fit": "contain"}, (300, 100)),
        ({"width": 300, "height": 300, "fit": "cover"}, (300, 300)),
        ({"width": 300, "height": 300, "fit": "fill"}, (300, 300)),
        ({"width": 300, "height": 300, "fit": "pad"}, (300, 300)),
        ({"width": 2400}, (1200, 400)),
        ({"width": 2400, "enlarge": True}, (2400, 800)),
    ],
)
def test_output_size_for_each_fit_mode(options: dict[str, Any], size: tuple[int, int]) -> None:
    assert render(STRIPES, format="png", **options).size == size


def test_contain_keeps_the_whole_image() -> None:
    image = render(STRIPES, width=300, height=300, fit="contain", format="png")

    assert_colour(mean(image, (0.05, 0.1, 0.28, 0.9)), RED, LOSSLESS)
    assert_colour(mean(image, (0.72, 0.1, 0.95, 0.9)), BLUE, LOSSLESS)


def test_cover_crops_the_centre() -> None:
    image = render(STRIPES, width=100, height=100, fit="cover", format="png")

    assert image.size == (100, 100)
    assert_colour(mean(image, (0, 0, 1, 1)), GREEN, LOSSLESS)


def test_fill_stretches_everything_into_the_box() -> None:
    image = render(STRIPES, width=300, height=300, fit="fill", format="png")

    assert_colour(mean(image, (0.05, 0.05, 0.28, 0.95)), RED, LOSSLESS)
    assert_colour(mean(image, (0.38, 0.05, 0.62, 0.95)), GREEN, LOSSLESS)
    assert_colour(mean(image, (0.72, 0.05, 0.95, 0.95)), BLUE, LOSSLESS)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_pad_makes_the_exact_canvas_with_the_background_at_the_borders(fmt: str) -> None:
    source = encode(Image.new("RGB", (400, 200), RED), "PNG")

    image = render(source, width=300, height=300, fit="pad", background="00ff00", format=fmt)

    assert image.size == (300, 300)
    # The 300x150 picture sits centred at y 75..225; green above and below.
    assert_colour(mean(image.convert("RGB"), (0.03, 0.03, 0.97, 0.2)), GREEN, TOLERANCE[fmt])
    assert_colour(mean(image.convert("RGB"), (0.03, 0.3, 0.97, 0.7)), RED, TOLERANCE[fmt])
    assert_colour(mean(image.convert("RGB"), (0.03, 0.8, 0.97, 0.97)), GREEN, TOLERANCE[fmt])


def test_pad_of_a_transparent_image_into_png_leaves_the_borders_transparent() -> None:
    source = encode(Image.new("RGBA", (400, 200), (*RED, 200)), "PNG")

    image = render(source, width=300, height=300, fit="pad", background="00ff00", format="png")

    assert image.mode == "RGBA"
    assert_colour(mean(image, (0.03, 0.03, 0.97, 0.2))[3:], (0,), LOSSLESS)
    assert_colour(mean(image, (0.03, 0.3, 0.97, 0.7)), (*RED, 200), LOSSLESS)


# --- JPEG shrink-on-load ------------------------------------------------------------

BIG_JPEG = photo(4000, 3000)


def test_jpeg_shrink_on_load_decodes_a_smaller_image_that_still_leaves_a_reducing_gap() -> None:
    work = Work(BIG_JPEG, ResizeOptions(width=300), LIMITS)

    run_steps(work, "sniff", "open_header", "plan_geometry", "shrink_on_load", "decode")

    assert work.image.width < 4000
    assert work.image.height < 3000
    assert work.image.width >= 2 * 300


def test_without_shrink_on_load_the_jpeg_decodes_at_full_size() -> None:
    work = Work(BIG_JPEG, ResizeOptions(width=300), LIMITS)

    run_steps(work, "sniff", "open_header", "plan_geometry", "decode")

    assert work.image.size == (4000, 3000)


def test_shrink_on_load_output_matches_a_full_size_decode() -> None:
    def output(skip: set[str]) -> Image.Image:
        work = Work(BIG_JPEG, ResizeOptions(width=300, format="png"), LIMITS)
        run_steps(work, *(name for name in STEPS if name not in skip))
        return decode(work.body).convert("RGB")

    fast, slow = output(skip=set()), output(skip={"shrink_on_load"})

    assert fast.size == slow.size == (300, 225)
    difference = ImageStat.Stat(ImageChops.difference(fast, slow)).mean
    assert max(difference) < 2.0, difference  # mean absolute difference per channel


# --- EXIF orientation ---------------------------------------------------------------

T = Image.Transpose
#: How a camera stores an upright picture for each EXIF orientation (the inverse of
#: what a viewer must do): e.g. 6 means "rotate 90° clockwise to view", so it is
#: stored rotated 90° counter-clockwise.
STORED_AS = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}


def camera_jpeg(orientation: int, exif: bytes | None = None) -> bytes:
    """An upright 800x600 quadrant picture, stored the way `orientation` says."""
    stored = quadrants(800, 600)
    if STORED_AS[orientation] is not None:
        stored = stored.transpose(STORED_AS[orientation])
    if exif is None:
        tags = Image.Exif()
        tags[0x0112] = orientation
        exif = tags.tobytes()
    return encode(stored, "JPEG", quality=95, exif=exif)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    image = render(camera_jpeg(orientation), width=200, format="png")

    assert image.size == (200, 150)
    assert_upright_quadrants(image, LOSSY)


def test_exif_with_a_mistyped_tag_still_renders_upright() -> None:
    data = camera_jpeg(6, exif=hostile.exif_orientation_with_mistyped_tag(6))

    image = render(data, width=200, format="png")

    assert image.size == (200, 150)
    assert_upright_quadrants(image, LOSSY)


# --- metadata ---------------------------------------------------------------------

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret-xmp/></x:xmpmeta>'


def with_metadata(fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    save: dict[str, Any] = {"exif": exif.tobytes(), "icc_profile": SRGB_ICC}
    if fmt == "JPEG":
        save.update(comment=b"secret-comment", xmp=XMP)
    elif fmt == "WEBP":
        save.update(xmp=XMP)
    elif fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_text("Comment", "secret-comment")
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        save.update(pnginfo=text)
    return encode(Image.new("RGB", (64, 64), (200, 30, 30)), fmt, **save)


#: Container-level signs of metadata, per output format.
METADATA_MARKERS = {
    "jpeg": [b"Exif\x00\x00", b"ICC_PROFILE", b"http://ns.adobe.com/xap"],
    "png": [b"eXIf", b"iCCP", b"tEXt", b"iTXt", b"zTXt"],
    "webp": [b"EXIF", b"ICCP", b"XMP "],
    "avif": [b"Exif", b"prof", b"mime"],
}


@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_outputs_carry_no_exif_gps_xmp_icc_or_comments(source: str, fmt: str) -> None:
    data = with_metadata(source)
    assert b"SecretCam" in data  # the source does carry it

    rendered = imaging.render(data, ResizeOptions(width=32, format=fmt), LIMITS)
    image = decode(rendered.body)

    assert not dict(image.getexif())
    leaked = {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Comment"}
    assert leaked.isdisjoint(image.info)
    assert b"secret" not in rendered.body.lower()
    assert [m for m in METADATA_MARKERS[fmt] if m in rendered.body] == []


# --- alpha ------------------------------------------------------------------------

#: 300x100: opaque red | half-transparent blue | fully transparent (green underneath).
TRANSLUCENT = encode(
    stripes(300, 100, ((*RED, 255), (*BLUE, 128), (*GREEN, 0)), mode="RGBA"), "PNG"
)
THIRDS = ((0.05, 0.1, 0.28, 0.9), (0.38, 0.1, 0.62, 0.9), (0.72, 0.1, 0.95, 0.9))


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
def test_alpha_is_kept_for_formats_that_have_it(fmt: str) -> None:
    image = render(TRANSLUCENT, format=fmt)

    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    for box, expected in zip(THIRDS, (255, 128, 0), strict=True):
        assert_colour(mean(alpha, box), (expected,), TOLERANCE[fmt])
    assert_colour(mean(image, THIRDS[0])[:3], RED, TOLERANCE[fmt])
    assert_colour(mean(image, THIRDS[1])[:3], BLUE, TOLERANCE[fmt])


@pytest.mark.parametrize(
    ("background", "half_blue", "clear"),
    [("ffffff", (127, 127, 255), WHITE), ("000000", (0, 0, 128), BLACK)],
)
def test_jpeg_flattens_alpha_onto_the_background(
    background: str, half_blue: tuple[int, ...], clear: tuple[int, ...]
) -> None:
    image = render(TRANSLUCENT, format="jpeg", background=background)

    assert image.mode == "RGB"
    for box, expected in zip(THIRDS, (RED, half_blue, clear), strict=True):
        assert_colour(mean(image, box), expected, LOSSY)


def test_transparent_source_without_a_format_becomes_png_and_opaque_becomes_jpeg() -> None:
    assert imaging.render(TRANSLUCENT, ResizeOptions(), LIMITS).format == "png"
    assert imaging.render(STRIPES, ResizeOptions(), LIMITS).format == "jpeg"


# --- source modes and formats -------------------------------------------------------


@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP", "AVIF", "GIF"])
def test_every_input_format_renders_with_the_right_colours(source: str) -> None:
    data = encode(quadrants(400, 300), source)

    image = render(data, width=200, format="png")

    assert image.size == (200, 150)
    assert_upright_quadrants(image, LOSSY)


def test_cmyk_jpeg_comes_out_as_rgb_with_the_right_colours() -> None:
    cmyk = Image.new("CMYK", (1600, 1200))
    inks = ((255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255))
    for ink, (x, y) in zip(inks, ((0, 0), (1, 0), (0, 1), (1, 1)), strict=True):
        cmyk.paste(ink, (x * 800, y * 600, (x + 1) * 800, (y + 1) * 600))

    image = render(encode(cmyk, "JPEG", quality=95), width=200, format="jpeg")

    assert image.mode == "RGB"
    assert image.size == (200, 150)
    expected = ((0, 255, 255), (255, 0, 255), (255, 255, 0), BLACK)  # cyan, magenta, yellow, black
    for box, colour in zip(CORNERS.values(), expected, strict=True):
        assert_colour(mean(image, box), colour, LOSSY)


def deep_grey(width: int, height: int, values: tuple[int, ...]) -> Image.Image:
    """16-bit greyscale vertical stripes (built from bytes: PIL's paste clips I;16)."""
    step = width // len(values)
    row = b"".join(struct.pack("<H", values[min(x // step, len(values) - 1)]) for x in range(width))
    return Image.frombytes("I;16", (width, height), row * height)


def test_16_bit_greyscale_png_is_scaled_to_8_bits() -> None:
    deep = deep_grey(300, 100, (0, 0x8000, 0xFFFF))

    image = render(encode(deep, "PNG"), format="png")

    assert image.mode == "L"
    for box, expected in zip(THIRDS, (0, 128, 255), strict=True):
        assert_colour(mean(image, box), (expected,), LOSSLESS)


def test_16_bit_greyscale_png_transparency_stays_on_the_right_pixels() -> None:
    deep = deep_grey(300, 100, (0x8000, 0))

    image = render(encode(deep, "PNG", transparency=0x8000), format="png")

    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    assert_colour(mean(alpha, (0.05, 0.1, 0.45, 0.9)), (0,), LOSSLESS)  # the tRNS grey
    assert_colour(mean(alpha, (0.55, 0.1, 0.95, 0.9)), (255,), LOSSLESS)  # black is opaque


def test_greyscale_png_renders_grey() -> None:
    grey = stripes(300, 100, ((0,), (128,), (255,)), mode="L")

    image = render(encode(grey, "PNG"), format="jpeg")

    for box, expected in zip(THIRDS, (0, 128, 255), strict=True):
        assert_colour(mean(image.convert("L"), box), (expected,), LOSSY)


def test_greyscale_with_alpha_keeps_its_alpha_in_png_and_flattens_in_jpeg() -> None:
    source = encode(stripes(300, 100, ((100, 255), (100, 0)), mode="LA"), "PNG")

    png = render(source, format="png").convert("RGBA")
    jpeg = render(source, format="jpeg").convert("RGB")

    assert_colour(mean(png, (0.05, 0.1, 0.45, 0.9)), (100, 100, 100, 255), LOSSLESS)
    assert_colour(mean(png, (0.55, 0.1, 0.95, 0.9))[3:], (0,), LOSSLESS)
    assert_colour(mean(jpeg, (0.05, 0.1, 0.45, 0.9)), (100, 100, 100), LOSSY)
    assert_colour(mean(jpeg, (0.55, 0.1, 0.95, 0.9)), WHITE, LOSSY)


def test_palette_png_with_a_transparent_index_keeps_it_transparent() -> None:
    palette = stripes(300, 100, ((0,), (1,)), mode="P")
    palette.putpalette([*RED, *BLUE])
    source = encode(palette, "PNG", transparency=0)

    png = render(source, format="png")
    jpeg = render(source, format="jpeg")

    assert png.mode == "RGBA"
    assert_colour(mean(png, (0.05, 0.1, 0.45, 0.9))[3:], (0,), LOSSLESS)
    assert_colour(mean(png, (0.55, 0.1, 0.95, 0.9)), (*BLUE, 255), LOSSLESS)
    assert_colour(mean(jpeg, (0.05, 0.1, 0.45, 0.9)), WHITE, LOSSY)
    assert_colour(mean(jpeg, (0.55, 0.1, 0.95, 0.9)), BLUE, LOSSY)


def test_rgb_png_with_a_transparent_colour_and_an_icc_profile_keeps_the_transparency() -> None:
    source = encode(
        stripes(300, 100, (WHITE, RED)), "PNG", transparency=WHITE, icc_profile=SRGB_ICC
    )

    image = render(source, format="png")

    assert image.mode == "RGBA"
    assert_colour(mean(image, (0.05, 0.1, 0.45, 0.9))[3:], (0,), LOSSLESS)
    assert_colour(mean(image, (0.55, 0.1, 0.95, 0.9)), (*RED, 255), LOSSLESS)


def test_rgb_png_with_a_transparent_colour_keeps_the_transparency() -> None:
    source = encode(stripes(300, 100, (WHITE, RED)), "PNG", transparency=WHITE)

    image = render(source, format="png")

    assert_colour(mean(image, (0.05, 0.1, 0.45, 0.9))[3:], (0,), LOSSLESS)
    assert_colour(mean(image, (0.55, 0.1, 0.95, 0.9)), (*RED, 255), LOSSLESS)


def test_animated_gif_renders_its_first_frame() -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in (RED, BLUE, GREEN)]
    source = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    image = render(source, width=60, format="png")

    assert image.size == (60, 40)
    assert_colour(mean(image.convert("RGB"), (0, 0, 1, 1)), RED, LOSSLESS)


def test_gif_transparency_is_kept_in_png() -> None:
    palette = stripes(120, 40, ((0,), (1,)), mode="P")
    palette.putpalette([*RED, *BLUE])
    source = encode(palette, "GIF", transparency=0)

    image = render(source, format="png")

    assert_colour(mean(image, (0.05, 0.1, 0.45, 0.9))[3:], (0,), LOSSLESS)
    assert_colour(mean(image, (0.55, 0.1, 0.95, 0.9)), (*BLUE, 255), LOSSLESS)


# --- refusals -------------------------------------------------------------------


def test_an_empty_file_is_unprocessable() -> None:
    with pytest.raises(Unprocessable) as caught:
        imaging.render(b"", ResizeOptions(width=10), LIMITS)
    assert caught.value.status == 422


def _bmp() -> bytes:
    return encode(Image.new("RGB", (8, 8), RED), "BMP")


def _tiff() -> bytes:
    return encode(Image.new("RGB", (8, 8), RED), "TIFF")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hostile.random_bytes(), id="random bytes"),
        pytest.param(b"hello, this is not an image\n" * 20, id="text"),
        pytest.param(_bmp(), id="bmp"),
        pytest.param(_tiff(), id="tiff"),
    ],
)
def test_files_that_are_not_an_allowed_format_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        imaging.render(data, ResizeOptions(width=10), LIMITS)
    assert caught.value.status == 415


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_file_is_a_client_error(fmt: str) -> None:
    whole = photo(400, 300, fmt)

    with pytest.raises(ProxyError) as caught:
        imaging.render(whole[: len(whole) // 2], ResizeOptions(width=100), LIMITS)
    assert isinstance(caught.value, Unprocessable)
    assert 400 <= caught.value.status < 500


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(hostile.avif_with_zeroed_pixels, id="zeroed pixels"),
        pytest.param(hostile.avif_without_an_image_item, id="no image"),
    ],
)
def test_a_corrupt_avif_is_unprocessable(mangle: Callable[[bytes], bytes]) -> None:
    data = mangle(encode(quadrants(64, 48), "AVIF"))

    with pytest.raises(Unprocessable):
        imaging.render(data, ResizeOptions(width=32), LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_mangled_files_raise_only_proxy_errors(fmt: str) -> None:
    """A seeded mini-fuzz: flip a few bytes past the signature, many times."""
    source = encode(quadrants(48, 32).convert("RGBA" if fmt == "PNG" else "RGB"), fmt)
    rng = random.Random(fmt)
    for _ in range(60):
        data = bytearray(source)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(12, len(data))] = rng.randrange(256)
        try:
            imaging.render(bytes(data), ResizeOptions(width=20, format="png"), LIMITS)
        except ProxyError as exc:
            assert 400 <= exc.status < 500


# --- the pixel limit, from the header alone ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hostile.png_header_claiming(60000, 60000), id="png 60000x60000"),
        pytest.param(hostile.gif_claiming((60000, 60000), (1, 1)), id="gif screen 60000x60000"),
        pytest.param(hostile.gif_claiming((1, 1), (60000, 60000)), id="gif frame 60000x60000"),
    ],
)
def test_too_many_pixels_is_refused_from_the_header(data: bytes) -> None:
    limits = Limits(max_pixels=50_000_000)

    with pytest.raises(PayloadTooLarge) as caught:
        imaging.probe(data, limits)
    assert caught.value.status == 413
    with pytest.raises(PayloadTooLarge):
        imaging.render(data, ResizeOptions(width=100), limits)


def test_pixel_limit_is_exact_even_below_pils_own_bomb_threshold() -> None:
    data = encode(Image.new("RGB", (120, 100), RED), "PNG")  # 12,000 pixels

    assert render(data, Limits(max_pixels=12_000), format="png").size == (120, 100)
    with pytest.raises(PayloadTooLarge):
        imaging.render(data, ResizeOptions(), Limits(max_pixels=11_999))


# --- probe and sniff -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_probe_returns_the_format_and_size(fmt: str) -> None:
    data = encode(quadrants(64, 48), PIL_NAMES[fmt])

    assert imaging.probe(data, LIMITS) == SourceInfo(fmt, 64, 48)
    assert imaging.sniff_format(data) == fmt


@pytest.mark.parametrize(
    "data",
    [b"", b"BM" + bytes(40), b"II*\x00" + bytes(40), b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
)
def test_sniff_format_knows_nothing_else(data: bytes) -> None:
    assert imaging.sniff_format(data) is None


def test_probe_reads_only_the_header() -> None:
    # Half a PNG: the header is intact, the pixels are not.
    whole = encode(quadrants(640, 480), "PNG")

    assert imaging.probe(whole[: len(whole) // 2], LIMITS) == SourceInfo("png", 640, 480)


def test_a_jpeg_with_too_many_scans_is_refused_before_decoding() -> None:
    progressive = encode(quadrants(64, 48), "JPEG", progressive=True)
    end = progressive.rindex(b"\xff\xd9")
    # Repeat an (empty) scan header until there are far more scans than any encoder makes.
    sos = progressive.index(b"\xff\xda")
    header_length = int.from_bytes(progressive[sos + 2 : sos + 4], "big")
    scan_header = progressive[sos : sos + 2 + header_length]
    bomb = progressive[:end] + scan_header * 5000 + b"\xff\xd9"

    with pytest.raises(Unprocessable):
        imaging.render(bomb, ResizeOptions(width=32), LIMITS)
    # An ordinary progressive JPEG is fine.
    assert imaging.render(progressive, ResizeOptions(width=32), LIMITS).width == 32


def animated(fmt: str, frames: int = 6, size: tuple[int, int] = (80, 60)) -> bytes:
    """Frames of different colours, 40 ms each, looping forever."""
    images = [Image.new("RGB", size, ((40 * i) % 256, 200 - 20 * i, 30)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=40, loop=0)
    return out.getvalue()


@pytest.mark.parametrize(
    ("source", "output"), [("GIF", "gif"), ("GIF", "webp"), ("WEBP", "webp"), ("WEBP", "gif")]
)
def test_animations_are_kept_where_the_output_can_hold_them(source: str, output: str) -> None:
    rendered = imaging.render(animated(source), ResizeOptions(width=40, format=output), LIMITS)

    result = Image.open(io.BytesIO(rendered.body))
    assert rendered.format == output
    assert getattr(result, "n_frames", 1) == 6
    assert result.size == (40, 30)
    colours = []
    for index in range(6):
        result.seek(index)
        colours.append(result.convert("RGB").getpixel((20, 15)))
    assert len(set(colours)) == 6  # each frame is its own picture


def test_an_animated_gif_without_fm_stays_an_animated_gif() -> None:
    rendered = imaging.render(animated("GIF"), ResizeOptions(width=40), LIMITS)

    assert rendered.format == "gif"
    assert Image.open(io.BytesIO(rendered.body)).n_frames == 6


def test_animated_avif_is_served_as_animated_webp() -> None:
    rendered = imaging.render(animated("GIF"), ResizeOptions(width=40, format="avif"), LIMITS)

    assert rendered.format == "webp"
    assert Image.open(io.BytesIO(rendered.body)).n_frames == 6


@pytest.mark.parametrize("output", ["jpeg", "png"])
def test_formats_without_animation_get_the_first_frame(output: str) -> None:
    rendered = imaging.render(animated("GIF"), ResizeOptions(width=40, format=output), LIMITS)

    first = Image.open(io.BytesIO(rendered.body)).convert("RGB")
    assert abs(first.getpixel((20, 15))[1] - 200) < 12  # frame 0's green


def test_an_animation_too_big_to_keep_gives_its_first_frame() -> None:
    small_limits = Limits(max_pixels=80 * 60 * 2)  # 6 frames x 4800 px > 2 x 9600

    rendered = imaging.render(animated("GIF"), ResizeOptions(width=40, format="gif"), small_limits)

    assert getattr(Image.open(io.BytesIO(rendered.body)), "n_frames", 1) == 1
