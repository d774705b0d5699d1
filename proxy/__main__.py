"""Command line: `python -m proxy serve|demo` (also the `resize-proxy` script)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from .seaweed import SeaweedS3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the proxy (configured by PROXY_* variables)")
    demo = commands.add_parser(
        "demo", help="start a local private SeaweedFS S3 with sample images, then the proxy"
    )
    demo.add_argument("--dir", default=".demo", help="where SeaweedFS keeps its data")
    sign = commands.add_parser(
        "sign", help="print PATH signed with the first of PROXY_SIGNING_KEYS"
    )
    sign.add_argument("--method", choices=("GET", "PUT", "DELETE"), default="GET")
    sign.add_argument("--expires", type=int, metavar="SECONDS", help="valid for this long")
    sign.add_argument("path", metavar="PATH", help="path with its query, e.g. '/cat.jpg?w=400'")
    warm = commands.add_parser(
        "warm", help="pre-generate preset variants of existing originals (resumable)"
    )
    warm.add_argument("--prefix", default="", help="only originals under this key prefix")
    warm.add_argument(
        "--preset", action="append", default=[], help="preset to render (repeatable; default all)"
    )
    warm.add_argument(
        "--concurrency", type=int, default=0, help="renders at once (default 2x workers)"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    if args.command == "sign":
        return sign_path(args.method, args.expires, args.path)
    if args.command == "warm":
        return run_warm(args.prefix, args.preset, args.concurrency)
    return run_demo(Path(args.dir))


def sign_path(method: str, expires: int | None, target: str) -> int:
    import time
    from urllib.parse import parse_qsl, unquote, urlsplit

    from .config import signing_keys_from_env
    from .signing import sign

    try:
        keys = signing_keys_from_env(os.environ)
    except ConfigError as exc:
        print(f"resize-proxy: {exc}", file=sys.stderr)
        return 2
    parts = urlsplit(target)
    if not parts.path.startswith("/"):
        print("resize-proxy: PATH must start with /", file=sys.stderr)
        return 2
    expires_at = int(time.time()) + expires if expires is not None else None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    print(sign(keys[0], method, unquote(parts.path), pairs, expires_at=expires_at))
    return 0


def run_warm(prefix: str, presets: list[str], concurrency: int) -> int:
    import asyncio

    config = _load()
    if config is None:
        return 2
    _setup_logging("WARNING")
    chosen = presets or list(config.presets)
    unknown = [name for name in chosen if name not in config.presets]
    if not chosen or unknown:
        print(
            f"resize-proxy: unknown or no presets: {unknown or 'PROXY_PRESETS is empty'}",
            file=sys.stderr,
        )
        return 2
    from .app import open_services
    from .warm import warm

    async def run() -> int:
        async with open_services(config) as services:
            tally = await warm(
                services,
                prefix=prefix,
                presets=chosen,
                concurrency=concurrency or 2 * config.render_workers,
            )
        return 1 if tally.failed else 0

    return asyncio.run(run())


def _load() -> Config | None:
    try:
        return load_config()
    except ConfigError as exc:
        print("resize-proxy: invalid configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # The access log is one JSON object a line, nothing else, for log shippers.
    from . import accesslog

    accesslog.install()


def serve(banner: str = "") -> int:
    config = _load()
    if config is None:
        return 2
    _setup_logging(config.log_level)
    from .app import create_app  # imported late: a config error should not wait for PIL
    from .server import serve as serve_app

    async def announce() -> None:
        if banner:
            print(banner, flush=True)

    with asyncio.Runner(loop_factory=_fastest_loop()) as runner:
        runner.run(serve_app(create_app(config), config, on_started=announce))
    return 0


def _fastest_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (a faster hot path), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_demo(data_dir: Path) -> int:
    """`make run`: a private bucket on a local S3 with sample originals, then serve."""
    from .imaging import sample_images
    from .seaweed import S3Credentials, SeaweedS3

    credentials = S3Credentials("demo-access", secrets.token_urlsafe(24))
    server = SeaweedS3(data_dir.resolve(), credentials)
    server.start()
    try:
        bucket = "images"
        server.create_bucket(bucket)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": credentials.access_key,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
                "AWS_REGION": "us-east-1",
                "PROXY_S3_BUCKET": bucket,
                "PROXY_S3_ENDPOINT_URL": server.endpoint_url,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        _upload_samples(server, bucket, sample_images())
        port = os.environ.get("PROXY_PORT", "8080")
        base = f"http://127.0.0.1:{port}"
        banner = "\n".join(
            [
                "",
                f"SeaweedFS S3 (private, SigV4 only) at {server.endpoint_url}, bucket '{bucket}'",
                "Try:",
                f"  {base}/original_images/sideways-photo.jpg            (the original, byte for byte)",
                f"  {base}/original_images/sideways-photo.jpg?w=400      (upright, 400 px wide)",
                f"  {base}/original_images/sideways-photo.jpg?w=300&h=300&fit=cover&fm=webp",
                f"  {base}/original_images/logo.png?w=200&fm=jpg&bg=1e90ff   (alpha on blue)",
                f"  {base}/original_images/logo.png?w=256&h=128&fit=pad&fm=png",
                f"  {base}/readyz",
                "Ctrl+C stops the proxy and SeaweedFS.",
                "",
            ]
        )
        return serve(banner)
    finally:
        server.stop()


def _upload_samples(server: SeaweedS3, bucket: str, samples: dict[str, tuple[bytes, str]]) -> None:
    client = server.client()
    for key, (body, content_type) in samples.items():
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


if __name__ == "__main__":
    sys.exit(main())
