"""Golden tests: rendered pixels against reference renders, within stated tolerances.

Each input is made from a known upright sRGB picture, so the reference is known
by construction: the picture itself, resized by PIL's own reference operations
(`resize`, `ImageOps.fit`, `ImageOps.pad`). Tolerances are mean absolute
differences over all channels, in 0..255 units.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat

from proxy.imaging import Limits, render
from proxy.options import ResizeOptions
from tests.icc import rgb_profile

LIMITS = Limits(max_pixels=50_000_000)
LOSSLESS_TOLERANCE = 2.0  # PNG output: only resampling differences
LOSSY_TOLERANCE = 4.0  # a JPEG/WebP step on the way


def upright(width: int = 600, height: int = 400) -> Image.Image:
    """Four differently coloured quadrants over a gradient: any wrong turn shows."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
            Image.new("L", (width, height), 128),
        ),
    )
    half_w, half_h = width // 2, height // 2
    base.paste((220, 30, 30), (0, 0, half_w, half_h))
    base.paste((30, 200, 40), (half_w, 0, width, half_h))
    base.paste((30, 40, 210), (0, half_h, half_w, height))
    return base


def mad(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def rendered(data: bytes, **options: object) -> Image.Image:
    result = render(data, ResizeOptions(**options), LIMITS)  # type: ignore[arg-type]
    image = Image.open(io.BytesIO(result.body))
    image.load()
    return image


# How a camera stores the upright picture for each EXIF orientation (EXIF 2.3, 4.6.4).
STORED_AS = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(fmt: str, orientation: int) -> None:
    picture = upright()
    stored = picture
    for step in STORED_AS[orientation]:
        stored = stored.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, fmt, quality=95, exif=exif.tobytes())

    out = rendered(data, width=300, format="png")

    assert out.size == (300, 200)
    assert mad(out, picture.resize((300, 200), Image.Resampling.LANCZOS)) < LOSSY_TOLERANCE


def test_icc_profile_is_converted_to_srgb() -> None:
    picture = upright()
    adobe = ImageCms.ImageCmsProfile(io.BytesIO(rgb_profile()))
    in_adobe = ImageCms.profileToProfile(picture, ImageCms.createProfile("sRGB"), adobe)
    assert in_adobe is not None
    data = encode(in_adobe, "PNG", icc_profile=rgb_profile())
    reference = picture.resize((300, 200), Image.Resampling.LANCZOS)

    out = rendered(data, width=300, format="png")

    assert "icc_profile" not in out.info
    assert mad(out, reference) < LOSSLESS_TOLERANCE + 1.0
    # Ignoring the profile would be visibly wrong: the test can tell the difference.
    assert mad(in_adobe.resize((300, 200), Image.Resampling.LANCZOS), reference) > 8


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [
        ((0, 255, 255, 0), (255, 0, 0)),
        ((255, 0, 255, 0), (0, 255, 0)),
        ((255, 255, 0, 0), (0, 0, 255)),
        ((0, 0, 0, 0), (255, 255, 255)),
        ((0, 0, 0, 255), (0, 0, 0)),
    ],
)
def test_cmyk_jpeg_comes_out_in_the_right_colours(
    cmyk: tuple[int, int, int, int], rgb: tuple[int, int, int]
) -> None:
    # Pillow writes CMYK JPEGs the Adobe way (inverted, with an APP14 marker).
    data = encode(Image.new("CMYK", (64, 64), cmyk), "JPEG", quality=95)

    out = rendered(data, width=32, format="png")

    assert out.mode == "RGB"
    assert mad(out, Image.new("RGB", out.size, rgb)) < LOSSY_TOLERANCE


@pytest.mark.parametrize(
    ("fmt", "background", "expected"),
    [
        ("jpeg", "ffffff", (255, 255, 255)),
        ("jpeg", "ff8800", (255, 136, 0)),
    ],
)
def test_transparency_is_flattened_onto_the_background(
    fmt: str, background: str, expected: tuple[int, int, int]
) -> None:
    logo = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    logo.paste((0, 0, 255, 255), (100, 0, 200, 100))  # right half opaque blue
    data = encode(logo, "PNG")

    out = rendered(data, width=100, format=fmt, background=background)

    left = out.crop((0, 0, 40, 50))
    right = out.crop((60, 0, 100, 50))
    assert mad(left, Image.new("RGB", left.size, expected)) < LOSSY_TOLERANCE
    assert mad(right, Image.new("RGB", right.size, (0, 0, 255))) < LOSSY_TOLERANCE


def test_half_transparent_pixels_blend_with_the_background() -> None:
    data = encode(Image.new("RGBA", (50, 50), (0, 0, 0, 128)), "PNG")

    out = rendered(data, format="jpeg", quality=100)

    # 50 % black over white: about 127 grey, not black (a naive convert('RGB')).
    assert mad(out, Image.new("RGB", out.size, (127, 127, 127))) < 2


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
def test_alpha_is_kept_where_the_format_has_it(fmt: str) -> None:
    logo = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (50, 0, 100, 100))
    data = encode(logo, "PNG")

    out = rendered(data, width=50, format=fmt, quality=90)

    alpha = out.convert("RGBA").getchannel("A")
    assert ImageStat.Stat(alpha.crop((0, 0, 20, 50))).mean[0] < 10
    assert ImageStat.Stat(alpha.crop((30, 0, 50, 50))).mean[0] > 245


def reference_contain(picture: Image.Image, w: int, h: int) -> Image.Image:
    copy = picture.copy()
    copy.thumbnail((w, h), Image.Resampling.LANCZOS, reducing_gap=None)
    return copy


@pytest.mark.parametrize(
    ("fit", "reference"),
    [
        ("contain", lambda p: reference_contain(p, 300, 300)),
        ("cover", lambda p: ImageOps.fit(p, (300, 300), Image.Resampling.LANCZOS)),
        ("fill", lambda p: p.resize((300, 300), Image.Resampling.LANCZOS)),
        ("pad", lambda p: ImageOps.pad(p, (300, 300), Image.Resampling.LANCZOS, color="#ffffff")),
    ],
)
@pytest.mark.parametrize("source_format", ["PNG", "JPEG"])
def test_each_fit_mode_matches_its_reference(
    fit: str, reference: object, source_format: str
) -> None:
    picture = upright()
    data = encode(picture, source_format, quality=95)
    tolerance = LOSSLESS_TOLERANCE if source_format == "PNG" else LOSSY_TOLERANCE

    out = rendered(data, width=300, height=300, fit=fit, format="png")

    expected = reference(picture)  # type: ignore[operator]
    assert out.size == expected.size
    assert mad(out, expected) < tolerance


def test_shrink_on_load_does_not_cost_visible_quality() -> None:
    picture = upright(4000, 3000)
    data = encode(picture, "JPEG", quality=95)

    out = rendered(data, width=250, format="png")

    assert mad(out, picture.resize((250, 188), Image.Resampling.LANCZOS)) < LOSSY_TOLERANCE
