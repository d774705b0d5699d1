"""`python -m bench`: the proxy's cold, result-store, hot and memory scenarios and
their references, in one run on one machine against one S3; see bench/README.md."""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .images import PHOTO_10MP, PHOTO_24MP, cached_photo
from .procs import Processes, exit_on_sigterm
from .report import Measurement, combine, markdown, ratios, read_json, write_json
from .scenarios import Bench
from .storage import running_storage
from .targets import ROOT, THUMBOR_VENV, setup_thumbor, thumbor_available
from .wrk import Load

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"
#: In run order; "hot" includes its nginx reference (which serves the hot variant's bytes).
GROUPS = ("bare", "cold", "thumbor", "store", "hot", "memory")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.report is not None:
        results = read_json(args.report)
        print(markdown(results, ratios({m.key: m for m in results})))
        return 0
    exit_on_sigterm()
    if args.setup_thumbor:
        setup_thumbor()
    groups = _groups(args)
    load = Load(threads=args.threads, connections=args.connections, duration=args.duration)
    workdir = CACHE_DIR / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = datetime.datetime.now(datetime.UTC)
    try:
        rounds = _measure(groups, load, workdir, args.repeat)
    except KeyboardInterrupt:
        print("\ninterrupted; every process started was stopped", file=sys.stderr)
        return 130
    results = [combine(measured) for measured in rounds.values()]
    checks = ratios({m.key: m for m in results})
    meta = _meta(args, load, started, groups)
    path = RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}.json"
    write_json(path, meta, results, checks)
    print()
    print(markdown(results, checks))
    print(f"\n{_environment_line(meta)}")
    print(f"results: {path.relative_to(ROOT)}; logs: {workdir.relative_to(ROOT)}/")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--connections", type=int, default=8, help="wrk -c")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="run only these (repeatable)"
    )
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the tables of a saved run, and exit"
    )
    parser.add_argument("--no-thumbor", action="store_true", help="skip the thumbor reference")
    parser.add_argument(
        "--setup-thumbor",
        action="store_true",
        help=f"first create {THUMBOR_VENV.relative_to(ROOT)} with thumbor 7.8 + thumbor-aws",
    )
    return parser


def _groups(args: argparse.Namespace) -> list[str]:
    chosen = [g for g in GROUPS if args.only is None or g in args.only]
    if "thumbor" in chosen and (args.no_thumbor or not thumbor_available()):
        if not args.no_thumbor:
            print("thumbor is not set up: skipped (add --setup-thumbor)", file=sys.stderr)
        chosen.remove("thumbor")
    return chosen


def _measure(
    groups: list[str], load: Load, workdir: Path, repeat: int
) -> dict[str, list[Measurement]]:
    """Every chosen group, `repeat` times over; measurements by key, in run order."""
    measured: dict[str, list[Measurement]] = {}
    photo_10mp = cached_photo(PHOTO_10MP, CACHE_DIR)
    photo_24mp = cached_photo(PHOTO_24MP, CACHE_DIR)
    with Processes() as procs, running_storage() as storage:
        storage.upload(PHOTO_10MP.key, photo_10mp)
        storage.upload(PHOTO_24MP.key, photo_24mp)
        bench = Bench(procs, storage, load, workdir, photo_10mp)
        for number in range(repeat):
            bench.round = number
            for group in groups:
                for measurement in _run_group(bench, group):
                    _progress(number, repeat, measurement)
                    measured.setdefault(measurement.key, []).append(measurement)
    return measured


def _run_group(bench: Bench, group: str) -> list[Measurement]:
    print(f"... {group}", file=sys.stderr, flush=True)
    if group == "hot":
        hot, body = bench.hot()
        return [hot, bench.nginx(body)]
    single: dict[str, Callable[[], Measurement]] = {
        "bare": bench.bare,
        "cold": bench.cold,
        "thumbor": bench.thumbor,
        "store": bench.store,
        "memory": bench.memory,
    }
    return [single[group]()]


def _progress(number: int, repeat: int, m: Measurement) -> None:
    prefix = f"[{number + 1}/{repeat}] " if repeat > 1 else ""
    rss = f", peak RSS {m.peak_rss_mib:.0f} MiB" if m.peak_rss_mib is not None else ""
    print(
        f"{prefix}{m.key}: {m.rps:.1f} req/s, p50 {m.p50_ms:.2f} ms, "
        f"p99 {m.p99_ms:.2f} ms{rss}; {m.note}",
        file=sys.stderr,
        flush=True,
    )


def _meta(
    args: argparse.Namespace, load: Load, started: datetime.datetime, groups: list[str]
) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": _command(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "python": platform.python_version(),
        "pillow_simd": _version("pillow-simd"),
        "cpu": _cpu_model(),
        "cpus": _command(["nproc"]),
        "wrk": {"threads": load.threads, "connections": load.connections},
        "seconds_per_scenario": load.duration,
        "repeat": args.repeat,
        "groups": groups,
        "photos": {
            p.name: {
                "size": f"{p.width}x{p.height}",
                "bytes": cached_photo(p, CACHE_DIR).stat().st_size,
            }
            for p in (PHOTO_10MP, PHOTO_24MP)
        },
        "nginx": _command(["nginx", "-v"]),
        "thumbor": _command([str(THUMBOR_VENV / "bin" / "thumbor"), "--version"])
        if "thumbor" in groups
        else None,
    }


def _environment_line(meta: dict[str, Any]) -> str:
    photo = meta["photos"][PHOTO_10MP.name]
    return (
        f"{meta['cpus']} x {meta['cpu']}; Pillow-SIMD {meta['pillow_simd']}; "
        f"wrk -t{meta['wrk']['threads']} -c{meta['wrk']['connections']} "
        f"-d{meta['seconds_per_scenario']:g}s; 10 MP photo {photo['size']}, "
        f"{photo['bytes'] / 1e6:.1f} MB; git {meta['git']}"
    )


def _command(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return (done.stdout or done.stderr).strip() or None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
