"""The only module that imports PIL.

`render` runs in a worker process (see `renderer`): it takes the original's bytes
and the options and returns encoded bytes. The pipeline is a named list of small
steps, each one thing, in order; errors are translated into the `ProxyError`
family right here, so a bad file is a 4xx and never a 500.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pillow_avif  # noqa: F401  # registers AVIF (Debian's libavif is too old for Pillow's own)
from PIL import Image, ImageCms, UnidentifiedImageError
from PIL import __version__ as PIL_VERSION

from . import geometry
from .errors import PayloadTooLarge, ProxyError, Unprocessable, UnsupportedMediaType
from .options import ALPHA_FORMATS, CONTENT_TYPES, Format, ResizeOptions

#: Animations: at most this many frames, and frames x pixels within this many
#: times PROXY_MAX_SOURCE_PIXELS; bigger ones keep only their first frame.
MAX_FRAMES = 300
ANIMATION_PIXEL_FACTOR = 2
ANIMATED_FORMATS = frozenset({"gif", "webp"})
#: Progressive JPEGs have about ten scans; libjpeg's own tools stop at 100 too.
MAX_JPEG_SCANS = 100
#: Bump when rendering changes, so stored variants of the old pipeline are not reused.
PIPELINE_VERSION = 2

#: Input formats we decode, as PIL names them, keyed by our name.
INPUT_FORMATS: dict[str, Format] = {
    "JPEG": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "AVIF": "avif",
}
#: What decoders raise on hostile input, at many depths; none of it is our bug.
#: (RuntimeError: the AVIF plugin's way of saying "corrupt".)
_DECODER_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    RuntimeError,
    struct.error,
)
DEFAULT_QUALITY: dict[Format, int] = {"jpeg": 82, "webp": 80, "avif": 60}
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Limits:
    max_pixels: int


@dataclass(frozen=True)
class SourceInfo:
    format: Format
    width: int
    height: int


@dataclass(frozen=True)
class Rendered:
    body: bytes
    format: Format
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass
class Work:
    """What flows through the pipeline: the image and what we know so far."""

    data: bytes
    options: ResizeOptions
    limits: Limits
    image: Image.Image = field(init=False)
    #: The opened file itself (animated sources seek through it frame by frame).
    source: Image.Image = field(init=False)
    source_format: Format = field(init=False)
    plan: geometry.Plan = field(init=False)
    #: The EXIF orientation (1-8), read once by `plan_geometry`.
    orientation: int = 1
    output_format: Format = field(init=False)
    #: Frames after the first and every frame's duration, when animation is kept.
    more_frames: list[Image.Image] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    body: bytes = b""


Step = Callable[[Work], None]


def pil_version() -> str:
    return PIL_VERSION


def is_simd_build() -> bool:
    """True when PIL comes from Pillow-SIMD (its versions end in `.postN`)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("pillow-simd")
    except metadata.PackageNotFoundError:
        return False
    return dist.version == PIL_VERSION and ".post" in PIL_VERSION


# --- the steps --------------------------------------------------------------


def sniff(work: Work) -> None:
    """Refuse what is not an allow-listed format before any decoder sees it."""
    if not work.data:
        raise Unprocessable("empty image")
    if sniff_format(work.data) is None:
        raise UnsupportedMediaType("unsupported image format")


def open_header(work: Work) -> None:
    """Parse only the header, and check the pixel count before decoding anything."""
    Image.MAX_IMAGE_PIXELS = work.limits.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(work.data), formats=list(INPUT_FORMATS))
    except Image.DecompressionBombError:
        raise PayloadTooLarge("image has too many pixels") from None
    except (UnidentifiedImageError, *_DECODER_ERRORS) as exc:
        raise Unprocessable("image cannot be decoded") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise Unprocessable("image has no pixels")
    if width * height > work.limits.max_pixels:
        raise PayloadTooLarge("image has too many pixels")
    work.image = work.source = image
    work.source_format = INPUT_FORMATS[str(image.format)]


def plan_geometry(work: Work) -> None:
    work.orientation = _orientation(work.image)
    width, height = work.image.size
    if work.orientation in (5, 6, 7, 8):
        width, height = height, width
    work.plan = geometry.plan(width, height, work.options)


def refuse_scan_bombs(work: Work) -> None:
    """A progressive JPEG with thousands of scans decodes for minutes (a classic
    fuzzer timeout). Byte stuffing makes FF DA appear only as a real SOS marker.
    Baseline JPEGs have one scan: only progressive ones are counted."""
    if work.source_format != "jpeg" or not work.image.info.get("progressive"):
        return
    data, position = work.data, 0
    for _ in range(MAX_JPEG_SCANS + 1):
        position = data.find(b"\xff\xda", position) + 1
        if position == 0:
            return
    raise Unprocessable("image has too many JPEG scans")


def shrink_on_load(work: Work) -> None:
    """JPEG decodes at 1/2, 1/4 or 1/8 scale for free: ask for the smallest that
    still leaves a reducing gap for a clean resample."""
    if work.source_format != "jpeg" or work.image.mode not in ("RGB", "L", "CMYK"):
        return
    width, height = geometry.draft_size(work.plan)
    if work.orientation in (5, 6, 7, 8):
        width, height = height, width
    work.image.draft(work.image.mode, (width, height))


def decode(work: Work) -> None:
    try:
        work.image.load()
    except Image.DecompressionBombError:
        raise PayloadTooLarge("image has too many pixels") from None
    except _DECODER_ERRORS as exc:
        raise Unprocessable("image cannot be decoded") from exc


def auto_orient(work: Work) -> None:
    """Apply the EXIF orientation, so the pixels are the way up the camera meant.

    Transposed directly from the tag that `plan_geometry` read, rather than by
    `ImageOps.exif_transpose`, which also rewrites the EXIF block (we strip it
    anyway) and fails on mistyped tags."""
    method = _TRANSPOSE_FOR_ORIENTATION.get(work.orientation)
    if method is not None:
        work.image = work.image.transpose(method)


def normalise_mode(work: Work) -> None:
    """Bring every mode but CMYK to L, RGB or RGBA (8 bits), keeping transparency
    (CMYK waits for `to_srgb`, which may have a CMYK profile for it)."""
    image = work.image
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = _from_16_bit(image)
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode == "CMYK":
        pass
    elif _has_alpha(image):
        image = image.convert("RGBA") if image.mode != "RGBA" else image
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if icc:
        image.info["icc_profile"] = icc
    work.image = image


def to_srgb(work: Work) -> None:
    """Convert embedded ICC profiles (and CMYK) to sRGB; outputs carry no profile."""
    image = work.image
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                work.image = converted
                return
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable or mismatched profile: the plain conversion below
    if image.mode == "CMYK":
        work.image = image.convert("RGB")


def resize(work: Work) -> None:
    image = work.image
    plan = work.plan
    # The plan is in full-size coordinates; shrink-on-load may have decoded smaller.
    factor_x = image.width / plan.source[0]
    factor_y = image.height / plan.source[1]
    left, top, right, bottom = plan.box
    box = (left * factor_x, top * factor_y, right * factor_x, bottom * factor_y)
    if plan.size == image.size and box == (0, 0, image.width, image.height):
        return
    work.image = image.resize(plan.size, Image.Resampling.LANCZOS, box=box)


def drop_opaque_alpha(work: Work) -> None:
    """An alpha channel that is opaque everywhere is no alpha: it must not turn
    a photo into a PNG or cost bytes."""
    image = work.image
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        work.image = image.convert("RGB")


def choose_format(work: Work) -> None:
    """The asked-for format, else the source's family: PNG with alpha, JPEG without,
    GIF for an animated GIF. This build cannot encode animated AVIF, so an animated
    source asked for as AVIF becomes animated WebP (every AVIF browser takes WebP)."""
    animated = _keeps_animation(work)
    if work.options.format == "avif" and animated:
        work.output_format = "webp"
    elif work.options.format is not None:
        work.output_format = work.options.format
    elif animated and work.source_format == "gif":
        work.output_format = "gif"
    else:
        work.output_format = "png" if work.image.mode == "RGBA" else "jpeg"


def flatten(work: Work) -> None:
    """Composite alpha onto the background where the output format has none."""
    if work.image.mode != "RGBA" or work.output_format in ALPHA_FORMATS:
        return
    work.image = _on_background(work.image, work.image.size, (0, 0), work.options.background)


def pad(work: Work) -> None:
    canvas = work.plan.canvas
    if canvas is None:
        return
    transparent = work.output_format in ALPHA_FORMATS and work.image.mode == "RGBA"
    if transparent:
        background = Image.new("RGBA", canvas, (0, 0, 0, 0))
        background.paste(work.image, work.plan.offset)
        work.image = background
    else:
        work.image = _on_background(work.image, canvas, work.plan.offset, work.options.background)


def animate(work: Work) -> None:
    """Keep an animation where the output can hold it (GIF, WebP): every further
    frame goes through the same per-frame steps as the first."""
    if work.output_format not in ANIMATED_FORMATS or not _keeps_animation(work):
        return
    source = work.source
    if work.image is source:
        work.image = source.copy()  # seeking below must not change the first frame
    work.durations = [_duration(source)]
    for index in range(1, min(_frame_count(source), MAX_FRAMES)):
        source.seek(index)
        frame = Work(work.data, work.options, work.limits)
        frame.image, frame.source, frame.source_format = source.copy(), source, work.source_format
        frame.plan, frame.output_format = work.plan, work.output_format
        frame.orientation = work.orientation
        for step in FRAME_STEPS:
            step(frame)
        work.more_frames.append(frame.image)
        work.durations.append(_duration(source))


def encode(work: Work) -> None:
    """Encode with no metadata at all: no EXIF, GPS, XMP, comments or ICC."""
    image = work.image
    image.info = {}
    fmt = work.output_format
    quality = work.options.quality or DEFAULT_QUALITY.get(fmt, 0)
    out = io.BytesIO()
    if work.more_frames:
        _encode_animation(work, out, quality)
    elif fmt == "jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=quality, progressive=True, optimize=True)
    elif fmt == "png":
        image.save(out, "PNG", compress_level=6)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=quality, method=4)
    elif fmt == "avif":
        image.save(out, "AVIF", quality=quality, speed=8)
    else:
        image.save(out, "GIF", optimize=False)
    work.body = out.getvalue()


PIPELINE: tuple[tuple[str, Step], ...] = (
    ("sniff", sniff),
    ("open_header", open_header),
    ("plan_geometry", plan_geometry),
    ("refuse_scan_bombs", refuse_scan_bombs),
    ("shrink_on_load", shrink_on_load),
    ("decode", decode),
    ("auto_orient", auto_orient),
    ("normalise_mode", normalise_mode),
    ("to_srgb", to_srgb),
    ("resize", resize),
    ("drop_opaque_alpha", drop_opaque_alpha),
    ("choose_format", choose_format),
    ("flatten", flatten),
    ("pad", pad),
    ("animate", animate),
    ("encode", encode),
)
#: What every further frame of an animation goes through (format already chosen).
FRAME_STEPS: tuple[Step, ...] = (auto_orient, normalise_mode, to_srgb, resize, flatten, pad)


def render(data: bytes, options: ResizeOptions, limits: Limits) -> Rendered:
    """Run the pipeline. Raises only `ProxyError`s for anything wrong with the file."""
    work = Work(data, options, limits)
    try:
        for _name, step in PIPELINE:
            step(work)
    except ProxyError:
        raise
    except _DECODER_ERRORS as exc:
        # Decoders raise these on hostile input at many depths; none is our bug.
        raise Unprocessable("image cannot be decoded") from exc
    except MemoryError:
        raise PayloadTooLarge("image needs too much memory") from None
    return Rendered(work.body, work.output_format, work.image.width, work.image.height)


def probe(data: bytes, limits: Limits) -> SourceInfo:
    """Check a file the way `render` would, reading only its header."""
    work = Work(data, ResizeOptions(), limits)
    sniff(work)
    open_header(work)
    return SourceInfo(work.source_format, *work.image.size)


def memory_needed(data: bytes, options: ResizeOptions, limits: Limits) -> int:
    """Bytes a render of `data` will hold at its peak, from the header alone:
    the source bytes, the decoded image (after JPEG shrink-on-load; PIL keeps 4
    bytes a pixel), the resampler's intermediate (output width x decoded
    height), and the output twice (image and encoder buffers)."""
    work = Work(data, options, limits)
    for step in (sniff, open_header, plan_geometry):
        step(work)
    width, height = work.image.size
    if work.source_format == "jpeg":
        wanted = geometry.draft_size(work.plan)
        oriented = work.plan.source
        ratio = min(oriented[0] // max(1, wanted[0]), oriented[1] // max(1, wanted[1]))
        reduction = next((r for r in (8, 4, 2) if r <= ratio), 1)
        width, height = -(-width // reduction), -(-height // reduction)
    out_width, out_height = work.plan.canvas or work.plan.size
    frames = 1
    if getattr(work.source, "is_animated", False):
        # Counting frames means reading the whole file (on the event loop, here):
        # assume the most frames an animation may keep instead.
        pixels = max(1, work.source.width * work.source.height)
        frames = max(1, min(MAX_FRAMES, work.limits.max_pixels * ANIMATION_PIXEL_FACTOR // pixels))
    per_frame = 4 * (width * height + out_width * height + 2 * out_width * out_height)
    return len(data) + per_frame + (frames - 1) * 4 * 2 * out_width * out_height


def inspect(data: bytes, limits: Limits) -> SourceInfo:
    """Check that a whole file decodes (uploads): header, limits, every byte of
    pixel data. JPEGs decode at 1/8 scale, which still reads all of the data."""
    work = Work(data, ResizeOptions(width=1, height=1, fit="fill", enlarge=False), limits)
    try:
        for step in (sniff, open_header, plan_geometry, refuse_scan_bombs, shrink_on_load, decode):
            step(work)
    except ProxyError:
        raise
    except _DECODER_ERRORS as exc:
        raise Unprocessable("image cannot be decoded") from exc
    return SourceInfo(work.source_format, *work.plan.source)  # as displayed (EXIF-oriented)


def sniff_format(data: bytes) -> Format | None:
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and (b"avif" in head[8:32] or b"avis" in head[8:32]):
        return "avif"
    return None


# --- helpers -----------------------------------------------------------------


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _keeps_animation(work: Work) -> bool:
    """Animated, and few enough pixels over all frames to be worth keeping."""
    source = work.source
    if not getattr(source, "is_animated", False):
        return False
    frames = min(_frame_count(source), MAX_FRAMES)
    return frames * source.width * source.height <= work.limits.max_pixels * ANIMATION_PIXEL_FACTOR


def _frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))


def _duration(image: Image.Image) -> int:
    value = image.info.get("duration", 100)
    return int(value) if isinstance(value, int | float) and value > 0 else 100


def _encode_animation(work: Work, out: io.BytesIO, quality: int) -> None:
    frames = [work.image, *work.more_frames]
    for frame in frames:
        frame.info = {}
    options: dict[str, object] = {
        "save_all": True,
        "append_images": frames[1:],
        "duration": work.durations,
    }
    loop = work.source.info.get("loop")
    if isinstance(loop, int):
        options["loop"] = loop
    if work.output_format == "gif":
        frames[0].save(out, "GIF", disposal=2, optimize=False, **options)
    else:
        frames[0].save(out, "WEBP", quality=quality, method=4, **options)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _from_16_bit(image: Image.Image) -> Image.Image:
    """16-bit greyscale to 8 bits; a tRNS transparent value is matched at 16 bits,
    before scaling, so it lands on the right pixels."""
    wide = image.convert("I")
    grey = wide.point(lambda value: value * (1 / 256)).convert("L")
    transparent = image.info.get("transparency")
    if not isinstance(transparent, int):
        return grey
    alpha = wide.point([0 if v == transparent else 255 for v in range(65536)], "L")
    return Image.merge("LA", (grey, alpha))


_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _on_background(
    image: Image.Image, size: tuple[int, int], offset: tuple[int, int], hex_colour: str
) -> Image.Image:
    colour = tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    mode = (
        "RGB"
        if image.mode in ("RGB", "RGBA") or colour[0] != colour[1] or colour[1] != colour[2]
        else "L"
    )
    background = Image.new(mode, size, colour if mode == "RGB" else colour[0])
    if image.mode == "RGBA":
        background.paste(image, offset, image)
    else:
        background.paste(image.convert(mode), offset)
    return background


# --- sample images for the demo ----------------------------------------------


def sample_images() -> dict[str, tuple[bytes, str]]:
    """A few originals for `make run`: a camera-like JPEG shot sideways (EXIF
    orientation 6, with GPS to show it is stripped) and a transparent PNG."""
    photo = Image.radial_gradient("L").resize((3000, 2000))
    photo = Image.merge(
        "RGB",
        (photo, photo.rotate(90, expand=False), Image.linear_gradient("L").resize((3000, 2000))),
    )
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    photo_bytes = io.BytesIO()
    photo.save(photo_bytes, "JPEG", quality=90, exif=exif.tobytes())

    logo = Image.new("RGBA", (800, 800), (0, 0, 0, 0))
    disc = Image.radial_gradient("L").resize((800, 800))
    logo.paste((230, 80, 20, 255), (0, 0), disc.point(lambda v: 255 if v < 128 else 0))
    logo_bytes = io.BytesIO()
    logo.save(logo_bytes, "PNG")
    return {
        "original_images/sideways-photo.jpg": (photo_bytes.getvalue(), "image/jpeg"),
        "original_images/logo.png": (logo_bytes.getvalue(), "image/png"),
    }
