"""Test images, made by the tests (tests may use PIL directly)."""

from __future__ import annotations

import io

from PIL import Image


def photo(width: int = 1200, height: int = 800, fmt: str = "JPEG", **save: object) -> bytes:
    """A smooth, photo-like RGB image: a gradient with a bright square in the top left."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.new("L", (width, height), 90)
    image = Image.merge("RGB", (red, green, blue))
    image.paste((255, 255, 255), (0, 0, max(1, width // 4), max(1, height // 4)))
    return encode(image, fmt, **save)


def solid(
    width: int, height: int, colour: tuple[int, ...], mode: str = "RGB", fmt: str = "PNG"
) -> bytes:
    return encode(Image.new(mode, (width, height), colour), fmt)


def encode(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
