"""The render limit: decode (with draft) -> resize -> encode in a loop, nothing else.

`python -m bench.bare PHOTO --seconds S --index I --step N` is one of N such
processes: it renders the photo's bytes (read once) to widths 300..499, taking
every N-th width from its own offset, until S seconds have passed, and prints
one JSON line: the duration of every render in milliseconds, and the CPU
seconds the loop used. No HTTP,
no S3, no IPC: what the proxy's cold path would do if everything but the
pixels were free.

Written independently of `proxy.imaging` on purpose: a reference must not
change when the code it measures does. The same shrink-on-load rule though:
decode at the smallest JPEG scale that still leaves twice the output size.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

WIDTHS = range(300, 500)
QUALITY = 85


def render_once(data: bytes, width: int, quality: int = QUALITY) -> bytes:
    image = Image.open(io.BytesIO(data))
    height = max(1, round(image.height * width / image.width))
    image.draft("RGB", (2 * width, 2 * height))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, "JPEG", quality=quality)
    return out.getvalue()


def loop(data: bytes, seconds: float, first: int, step: int) -> list[float]:
    """Render until `seconds` have passed; each render's duration in seconds."""
    durations: list[float] = []
    number = first
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        render_once(data, WIDTHS[number % len(WIDTHS)])
        durations.append(time.perf_counter() - started)
        number += step
    return durations


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("photo", type=Path)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--index", type=int, default=0, help="this process's number")
    parser.add_argument("--step", type=int, default=1, help="how many processes loop")
    args = parser.parse_args(argv)
    data = args.photo.read_bytes()
    render_once(data, WIDTHS[args.index % len(WIDTHS)])  # warm up: code paths, allocator
    cpu_before = time.process_time()
    durations = loop(data, args.seconds, args.index, args.step)
    report = {
        "durations_ms": [round(d * 1000, 3) for d in durations],
        "cpu_seconds": time.process_time() - cpu_before,
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
