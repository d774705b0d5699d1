"""The PIL we run is Pillow-SIMD, with every codec the proxy reads and writes."""

from __future__ import annotations

import io
import re
from importlib import metadata
from pathlib import Path

import PIL
import pytest
from PIL import Image, ImageStat, features

from proxy import imaging


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pil_is_the_pillow_simd_build() -> None:
    assert imaging.is_simd_build()
    assert ".post" in PIL.__version__
    assert metadata.version("pillow-simd") == PIL.__version__ == imaging.pil_version()


def test_plain_pillow_is_not_installed() -> None:
    installed = {_canonical(dist.metadata["Name"]) for dist in metadata.distributions()}

    assert "pillow-simd" in installed
    assert "pillow" not in installed


def test_the_imported_pil_package_is_the_one_pillow_simd_installed() -> None:
    dist = metadata.distribution("pillow-simd")
    owned = {Path(str(dist.locate_file(file))).resolve() for file in dist.files or []}

    assert Path(PIL.__file__).resolve() in owned


@pytest.mark.parametrize("feature", ["jpg", "zlib", "webp", "littlecms2"])
def test_codecs_the_pipeline_needs_are_compiled_in(feature: str) -> None:
    assert features.check(feature), f"{feature} missing from PIL"


def test_avif_can_be_saved_and_opened() -> None:
    assert "AVIF" in Image.SAVE  # registered by `proxy.imaging` (pillow_avif)
    assert "AVIF" in Image.OPEN
    original = Image.new("RGBA", (32, 32), (255, 0, 0, 128))
    out = io.BytesIO()
    original.save(out, "AVIF", quality=80)

    reopened = Image.open(io.BytesIO(out.getvalue()))
    reopened.load()

    assert reopened.format == "AVIF"
    assert reopened.size == (32, 32)
    assert reopened.mode == "RGBA"
    channels = ImageStat.Stat(reopened).mean
    expected = (255, 0, 0, 128)
    assert all(abs(a - e) <= 8 for a, e in zip(channels, expected, strict=True)), channels
