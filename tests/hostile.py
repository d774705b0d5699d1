"""Hand-made hostile and edge-case files, byte by byte (no PIL needed to make them)."""

from __future__ import annotations

import random
import struct
import zlib


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` RGB pixels, followed by a tiny IDAT
    that could never fill them: only a header check can judge it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_claiming(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A one-frame GIF89a with the given logical screen and frame (image descriptor)
    sizes, a two-colour palette and a few bytes of LZW data."""
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0)
    palette = b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, *frame, 0)
    lzw = b"\x02\x02\x44\x01\x00"
    return header + palette + descriptor + lzw + b";"


def exif_block(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A big-endian EXIF APP1 payload with one IFD of (tag, type, count, value) entries;
    each value is at most 4 bytes, stored inline."""
    ifd = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
    ifd += b"\x00\x00\x00\x00"  # no next IFD
    return b"Exif\x00\x00" + b"MM\x00*" + struct.pack(">I", 8) + ifd


SHORT, ASCII = 3, 2
ORIENTATION, RESOLUTION_UNIT = 0x0112, 0x0128


def exif_orientation_with_mistyped_tag(orientation: int) -> bytes:
    """A valid orientation next to ResolutionUnit (a SHORT) stored as ASCII: readers
    cope, but Pillow cannot write such an EXIF block back (`struct.error`)."""
    return exif_block(
        [
            (ORIENTATION, SHORT, 1, struct.pack(">H", orientation)),
            (RESOLUTION_UNIT, ASCII, 4, b"abc\x00"),
        ]
    )


def random_bytes(size: int = 4096, seed: int = 1) -> bytes:
    data = random.Random(seed).randbytes(size)
    return b"\x00" + data[1:]  # a leading NUL matches no image signature


def avif_with_zeroed_pixels(avif: bytes) -> bytes:
    """A well-formed AVIF container whose coded pixel data (the `mdat` box) is zeros."""
    start = avif.index(b"mdat") + 4
    return avif[:start] + bytes(len(avif) - start)


def avif_without_an_image_item(avif: bytes) -> bytes:
    """A well-formed AVIF container whose only item is no longer an `av01` image."""
    return avif.replace(b"av01", b"xxxx", 1)


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose SOF marker is patched to claim `width` x `height`."""
    data = bytearray(jpeg)
    index = 2
    while index < len(data) - 9:
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[index + 5 : index + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        index += 2 + length
    raise ValueError("no SOF marker")


def webp_canvas_claiming(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header claiming a canvas, with an empty VP8L image."""
    vp8x = (
        struct.pack("<I", 0x10)
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    chunks = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    chunks += b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def mangled(data: bytes, count: int, seed: int) -> list[bytes]:
    """`count` copies with a few bytes past the signature overwritten (seeded)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        copy = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            copy[rng.randrange(12, len(copy))] = rng.randrange(256)
        out.append(bytes(copy))
    return out


def truncations(data: bytes) -> list[bytes]:
    return [data[: len(data) * tenth // 10] for tenth in (1, 3, 5, 7, 9)] + [data[:-2]]
