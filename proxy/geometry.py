"""Where pixels go: source size + options -> crop box, output size, canvas. Pure.

Kept apart from `imaging` so every fit mode and the no-upscaling rule are
tested as arithmetic, without decoding a single image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .options import ResizeOptions

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Plan:
    """Resize `box` of the (oriented) source to `size`; then paste it at `offset`
    on a `canvas` of that size filled with the background, when `canvas` is set."""

    source: tuple[int, int]
    box: Box
    size: tuple[int, int]
    canvas: tuple[int, int] | None = None
    offset: tuple[int, int] = (0, 0)

    @property
    def scale(self) -> float:
        """Output pixels per source pixel along the axis that keeps the most
        (`fill` stretches the two axes differently)."""
        left, top, right, bottom = self.box
        return max(self.size[0] / (right - left), self.size[1] / (bottom - top))


def plan(source_width: int, source_height: int, options: ResizeOptions) -> Plan:
    sw, sh = source_width, source_height
    full: Box = (0.0, 0.0, float(sw), float(sh))
    w, h = options.width, options.height

    if w is None and h is None:
        return Plan((sw, sh), full, (sw, sh))
    if w is None or h is None or options.fit == "contain":
        return Plan((sw, sh), full, _contain(sw, sh, w, h, options.enlarge))

    if options.fit == "cover":
        needed = max(w / sw, h / sh)
        used = needed if options.enlarge else min(needed, 1.0)
        crop_w, crop_h = w / needed, h / needed
        left, top = (sw - crop_w) / 2, (sh - crop_h) / 2
        size = (_px(crop_w * used), _px(crop_h * used))
        return Plan((sw, sh), (left, top, left + crop_w, top + crop_h), size)

    if options.fit == "fill":
        factor = 1.0 if options.enlarge else min(1.0, sw / w, sh / h)
        return Plan((sw, sh), full, (_px(w * factor), _px(h * factor)))

    # pad: contain inside the box, centred on a canvas of exactly w x h.
    inner = _contain(sw, sh, w, h, options.enlarge)
    offset = ((w - inner[0]) // 2, (h - inner[1]) // 2)
    return Plan((sw, sh), full, inner, canvas=(w, h), offset=offset)


def draft_size(plan: Plan, reducing_gap: float = 2.0) -> tuple[int, int]:
    """The smallest decode size JPEG shrink-on-load may give without losing quality:
    the whole source at the output scale, times a reducing gap for clean resampling."""
    scale = min(1.0, plan.scale * reducing_gap)
    return (math.ceil(plan.source[0] * scale), math.ceil(plan.source[1] * scale))


def _contain(sw: int, sh: int, w: int | None, h: int | None, enlarge: bool) -> tuple[int, int]:
    scales = [side / src for side, src in ((w, sw), (h, sh)) if side is not None]
    scale = min(scales)
    if not enlarge:
        scale = min(scale, 1.0)
    # Keep the requested side exact instead of trusting float rounding.
    out_w = w if w is not None and scale == w / sw else _px(sw * scale)
    out_h = h if h is not None and scale == h / sh else _px(sh * scale)
    return (out_w, out_h)


def _px(value: float) -> int:
    return max(1, round(value))
