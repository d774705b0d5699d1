"""Camera-like test photos, generated once and kept under bench/.cache/.

A real photo compresses badly because of sensor grain and texture everywhere;
flat synthetic images decode several times faster and would flatter every
number. These have soft shapes and gradients (edges and smooth areas), a
mid-frequency texture and a fine luminance grain with a little chroma noise,
saved at quality 90 with 4:2:0 subsampling, baseline, like a camera: the
10 MP one is about 3.7 MB. They are cached, so every run (and every
reference within a run) decodes the same bytes.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

#: Bump when the generator changes, so cached files are made again.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Photo:
    name: str
    width: int
    height: int

    @property
    def key(self) -> str:
        """Its key in the bucket."""
        return f"originals/{self.name}.jpg"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


PHOTO_10MP = Photo("photo-10mp", 3872, 2592)
PHOTO_24MP = Photo("photo-24mp", 6000, 4000)


def cached_photo(photo: Photo, cache_dir: Path) -> Path:
    """The photo's JPEG file, generated on first use."""
    path = cache_dir / f"{photo.name}-v{GENERATOR_VERSION}.jpg"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(photo_jpeg(photo.width, photo.height))
        partial.replace(path)
    return path


def photo_jpeg(width: int, height: int, quality: int = 90, grain: float = 8.0) -> bytes:
    image = _add_grain(_blend_texture(_scene(width, height)), grain)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scene(width: int, height: int, seed: int = 7) -> Image.Image:
    """Gradients with overlapping soft-edged shapes: smooth areas and edges."""
    rng = random.Random(seed)
    scene = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(scene)
    for _ in range(120):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(width // 60, width // 6)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        box = (x - radius, y - radius // 2, x + radius, y + radius // 2 + rng.randrange(radius))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return scene.filter(ImageFilter.GaussianBlur(3))


def _blend_texture(scene: Image.Image) -> Image.Image:
    """Mid-frequency texture: coarse noise, scaled up smoothly."""
    width, height = scene.size
    coarse = (width // 8 + 1, height // 8 + 1)
    texture = Image.merge(
        "RGB",
        tuple(
            Image.effect_noise(coarse, 30).resize((width, height), Image.Resampling.BICUBIC)
            for _ in range(3)
        ),
    )
    return Image.blend(scene, texture, 0.25)


def _add_grain(image: Image.Image, sigma: float) -> Image.Image:
    """Sensor grain: mostly luminance (shared by the channels), a little chroma."""
    luma = Image.effect_noise(image.size, sigma)
    grain = Image.merge(
        "RGB",
        tuple(
            ImageChops.add(luma, Image.effect_noise(image.size, sigma / 3), 1.0, -128)
            for _ in range(3)
        ),
    )
    return ImageChops.add(image, grain, 1.0, -128)
