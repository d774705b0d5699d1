"""Make ICC v2 RGB matrix/TRC profiles for tests (no profile files to ship).

A profile is a 128-byte header, a tag table, and tags: description, white
point, the three primaries' XYZ columns (D50-adapted) and one gamma curve per
channel. LittleCMS (through PIL.ImageCms) reads it like any other profile.
"""

from __future__ import annotations

import struct

# Adobe RGB (1998), D50-adapted colorant columns as published in its profiles.
ADOBE_RGB_D50 = (
    (0.60974, 0.31111, 0.01947),
    (0.20528, 0.62567, 0.06087),
    (0.14919, 0.06322, 0.74457),
)
D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _curve(gamma: float) -> bytes:
    return (
        b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256)) + b"\0\0"
    )


def _desc(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    body = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text
    body += b"\0" * 4 + b"\0" * 4  # no Unicode description
    body += b"\0" * 2 + b"\0" + b"\0" * 67  # no ScriptCode description
    return body


def _text(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def rgb_profile(
    name: str = "Test Adobe RGB",
    columns: tuple[tuple[float, float, float], ...] = ADOBE_RGB_D50,
    gamma: float = 563 / 256,
) -> bytes:
    tags = [
        (b"desc", _desc(name)),
        (b"cprt", _text("No copyright, test data")),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(columns[0])),
        (b"gXYZ", _xyz(columns[1])),
        (b"bXYZ", _xyz(columns[2])),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = struct.pack(">I", len(tags))
    data = b""
    for signature, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = 128 + len(table) + len(data)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000)
    header += b"mntr" + b"RGB " + b"XYZ " + b"\0" * 12 + b"acsp" + b"APPL"
    header += b"\0" * 4 + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 4
    header += b"".join(_s15(v) for v in D50) + b"lcms"
    header += b"\0" * (128 - len(header))
    return header + table + data
