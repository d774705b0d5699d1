"""URL query -> `ResizeOptions`. Pure: no I/O, no PIL.

Equivalent URLs map to one `ResizeOptions` and so to one canonical string, which
names the variant in both caches: parameter order, `jpg` vs `jpeg`, `w=200&dpr=2`
vs `w=400`, and a `fit` that cannot matter (only one side given) all collapse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from .errors import BadOption

Fit = Literal["contain", "cover", "fill", "pad"]
Format = Literal["jpeg", "png", "webp", "avif", "gif"]

FITS: tuple[Fit, ...] = ("contain", "cover", "fill", "pad")
FORMAT_ALIASES: dict[str, Format] = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "png": "png",
    "webp": "webp",
    "avif": "avif",
    "gif": "gif",
}
CONTENT_TYPES: dict[Format, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
    "gif": "image/gif",
}
#: Formats with an alpha channel; the others get transparency flattened.
ALPHA_FORMATS: frozenset[Format] = frozenset({"png", "webp", "avif", "gif"})
PARAMETERS = ("w", "h", "fit", "fm", "q", "dpr", "bg", "enlarge")

_INT = re.compile(r"[0-9]{1,6}")
_DPR = re.compile(r"[0-9](\.[0-9]{1,2})?")
_HEX = re.compile(r"[0-9a-fA-F]{6}|[0-9a-fA-F]{3}")


@dataclass(frozen=True)
class ResizeOptions:
    """What to make of an original. Sizes are final pixels (`dpr` already applied)."""

    width: int | None = None
    height: int | None = None
    fit: Fit = "contain"
    format: Format | None = None  # None: negotiated from Accept, else the source's family
    quality: int | None = None
    background: str = "ffffff"
    enlarge: bool = False

    @property
    def canonical(self) -> str:
        """A stable, readable name of the variant (part of every cache key)."""
        parts = []
        if self.width is not None:
            parts.append(f"w={self.width}")
        if self.height is not None:
            parts.append(f"h={self.height}")
        parts.append(f"fit={self.fit}")
        parts.append(f"fm={self.format or 'auto'}")
        if self.quality is not None:
            parts.append(f"q={self.quality}")
        parts.append(f"bg={self.background}")
        if self.enlarge:
            parts.append("enlarge=1")
        return "&".join(parts)

    def with_format(self, fmt: Format | None) -> ResizeOptions:
        return self if fmt == self.format else _normalised(replace(self, format=fmt))


def parse_options(query: Iterable[tuple[str, str]], *, max_dimension: int) -> ResizeOptions | None:
    """Parse a URL query; `None` means "no options: serve the original".

    Raises `BadOption` naming the parameter for anything unknown, repeated,
    malformed or out of range.
    """
    params: dict[str, str] = {}
    for name, value in query:
        if name not in PARAMETERS:
            raise BadOption(name, "unknown parameter")
        if name in params:
            raise BadOption(name, "given more than once")
        params[name] = value
    if not params:
        return None

    width = _dimension(params, "w", max_dimension)
    height = _dimension(params, "h", max_dimension)
    dpr = _dpr(params)
    if dpr != 1.0 and width is None and height is None:
        raise BadOption("dpr", "needs w or h")
    fit = params.get("fit", "contain")
    if fit not in FITS:
        raise BadOption("fit", f"must be one of {', '.join(FITS)}")
    fm = params.get("fm")
    fmt: Format | None = None
    if fm is not None:
        if fm.lower() not in FORMAT_ALIASES:
            raise BadOption("fm", f"must be one of {', '.join(FORMAT_ALIASES)}")
        fmt = FORMAT_ALIASES[fm.lower()]
    quality = _ranged_int(params, "q", 1, 100)
    background = params.get("bg", "ffffff")
    if not _HEX.fullmatch(background):
        raise BadOption("bg", "must be a hex colour like ff8800")
    enlarge = params.get("enlarge", "0")
    if enlarge not in ("0", "1"):
        raise BadOption("enlarge", "must be 0 or 1")

    width, height = _apply_dpr(width, height, dpr, max_dimension)
    return _normalised(
        ResizeOptions(
            width=width,
            height=height,
            fit=fit,  # checked against FITS above
            format=fmt,
            quality=quality,
            background=_expand_hex(background),
            enlarge=enlarge == "1",
        )
    )


def negotiate_format(accept: str | None) -> Format | None:
    """The best modern format the client explicitly accepts (AVIF, then WebP)."""
    if not accept:
        return None
    accepted: set[str] = set()
    for item in accept.lower().split(","):
        media, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            accepted.add(media.strip())
    if "image/avif" in accepted:
        return "avif"
    if "image/webp" in accepted:
        return "webp"
    return None


def _normalised(options: ResizeOptions) -> ResizeOptions:
    # Without a size there is nothing to enlarge.
    if options.width is None and options.height is None:
        options = replace(options, enlarge=False)
    # With one side given there is no box to cover, fill or pad: all fits agree.
    if options.width is None or options.height is None:
        options = replace(options, fit="contain")
    # Lossless formats ignore quality; keep it out of the variant's name.
    if options.format in ("png", "gif"):
        options = replace(options, quality=None)
    # The background only shows where alpha is flattened or a canvas is padded.
    if options.fit != "pad" and options.format in ALPHA_FORMATS:
        options = replace(options, background="ffffff")
    return options


def _ranged_int(params: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not _INT.fullmatch(raw):
        raise BadOption(name, "must be a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise BadOption(name, f"must be between {low} and {high}")
    return value


def _dimension(params: dict[str, str], name: str, max_dimension: int) -> int | None:
    return _ranged_int(params, name, 1, max_dimension)


def _dpr(params: dict[str, str]) -> float:
    raw = params.get("dpr")
    if raw is None:
        return 1.0
    if not _DPR.fullmatch(raw):
        raise BadOption("dpr", "must be a number like 2 or 1.5")
    value = float(raw)
    if not 1.0 <= value <= 4.0:
        raise BadOption("dpr", "must be between 1 and 4")
    return value


def _apply_dpr(
    width: int | None, height: int | None, dpr: float, max_dimension: int
) -> tuple[int | None, int | None]:
    """Multiply by `dpr`, scaling down evenly so no side passes `max_dimension`."""
    if dpr == 1.0:
        return width, height
    scale = dpr
    for side in (width, height):
        if side is not None:
            scale = min(scale, max_dimension / side)
    scale = max(scale, 1.0)

    def scaled(side: int | None) -> int | None:
        # Half rounds up (Python's round() would round 4.5 down to 4).
        return None if side is None else max(1, min(max_dimension, int(side * scale + 0.5)))

    return scaled(width), scaled(height)


def _expand_hex(value: str) -> str:
    value = value.lower()
    return "".join(c * 2 for c in value) if len(value) == 3 else value
