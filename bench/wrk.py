"""Run wrk with a scenario's Lua script and read back the JSON line it prints.

Every script is bench/lua/report.lua (thread ids, the JSON summary) followed by
the scenario's own parts: tally.lua counts `X-Cache-Status`, unique.lua makes
every request a new variant, cycle.lua loops over a list of paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .procs import Processes

LUA_DIR = Path(__file__).parent / "lua"
_MARKER = "WRK_JSON "


@dataclass(frozen=True)
class Load:
    """wrk's settings, the same for every target."""

    threads: int = 2
    connections: int = 8
    duration: float = 15.0
    timeout: float = 10.0


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        """Non-2xx/3xx answers plus socket errors."""
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 2),
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "errors": self.errors,
            "cache": self.cache,
        }


def script(*parts: str) -> str:
    """report.lua followed by the named parts (e.g. "tally", "unique")."""
    names = ("report", *parts)
    return "\n".join((LUA_DIR / f"{name}.lua").read_text() for name in names)


def run_wrk(
    procs: Processes,
    url: str,
    *,
    load: Load,
    lua: str,
    args: list[str],
    workdir: Path,
    name: str,
) -> WrkResult:
    """Run wrk against `url` (scheme, host and port; the script sets the paths)."""
    script_path = workdir / f"{name}.lua"
    script_path.write_text(lua)
    log = workdir / f"{name}.wrk.txt"
    log.unlink(missing_ok=True)
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.duration:g}s",
        f"--timeout={load.timeout:g}s",
        "--latency",
        "-s",
        str(script_path),
        url,
        *(["--", *args] if args else []),
    ]
    process = procs.start(argv, log=log)
    code = procs.wait(process, timeout=load.duration + load.timeout + 30)
    output = log.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"wrk failed ({code}) for {name}:\n{output}")
    return parse(output)


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            break
    else:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    cache = {name: count for name, count in data["cache"].items() if count}
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors={name: count for name, count in data["errors"].items() if count},
        cache=cache,
    )
