"""CPU time actually spent, per process tree, and how busy the whole host was.

On a shared, noisy machine req/s moves with the neighbours' load; the CPU time
a target spends per request barely does. So every scenario also records the
CPU seconds (user + system, from /proc/PID/stat) of the target's process tree
and of the S3 server, and the share of all cores that was busy host-wide
(from /proc/stat). "host busy 100%" with a target using less than that means
someone else was competing for the cores during the measurement.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .rss import tree

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    target_seconds: float  #: the target's process tree
    s3_seconds: float  #: the S3 server (0 when it is not involved)
    wall_seconds: float
    host_busy: float  #: share of all cores busy host-wide, 0..1

    def per_request_ms(self, requests: int) -> tuple[float, float]:
        """(target, S3) CPU milliseconds per request."""
        if requests <= 0:
            return 0.0, 0.0
        return self.target_seconds * 1000 / requests, self.s3_seconds * 1000 / requests

    def as_json(self, requests: int) -> dict[str, float]:
        target, s3 = self.per_request_ms(requests)
        cores = os.cpu_count() or 1
        return {
            "target_cpu_s": round(self.target_seconds, 3),
            "s3_cpu_s": round(self.s3_seconds, 3),
            "target_cpu_ms_per_request": round(target, 3),
            "s3_cpu_ms_per_request": round(s3, 3),
            "target_cores_used": round(self.target_seconds / self.wall_seconds, 3)
            if self.wall_seconds
            else 0.0,
            "host_busy_pct": round(self.host_busy * 100, 1),
            "cores": cores,
        }


class CpuMeter:
    """`with CpuMeter(target_pids, s3_pids) as cpu:` ... then `cpu.use`."""

    def __init__(self, target: tuple[int, ...], s3: tuple[int, ...] = ()) -> None:
        self._target = target
        self._s3 = s3
        self._start: tuple[dict[int, int], dict[int, int], int, int] | None = None
        self._use: CpuUse | None = None

    def __enter__(self) -> CpuMeter:
        self._start = (*self._ticks(), *_host())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._start is not None
        target_before, s3_before, total_before, idle_before = self._start
        target_after, s3_after = self._ticks()
        total_after, idle_after = _host()
        total = total_after - total_before
        self._use = CpuUse(
            target_seconds=_spent(target_before, target_after),
            s3_seconds=_spent(s3_before, s3_after),
            # /proc/stat counts every core's ticks: the sum over cores, so divide back.
            wall_seconds=total / _TICKS / (os.cpu_count() or 1),
            host_busy=1 - (idle_after - idle_before) / total if total else 0.0,
        )

    @property
    def use(self) -> CpuUse:
        if self._use is None:
            raise RuntimeError("the meter has not finished")
        return self._use

    def _ticks(self) -> tuple[dict[int, int], dict[int, int]]:
        return _tree_ticks(self._target), _tree_ticks(self._s3)


def _tree_ticks(roots: tuple[int, ...]) -> dict[int, int]:
    if not roots:
        return {}
    ticks: dict[int, int] = {}
    for pid in tree(*roots):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def _spent(before: dict[int, int], after: dict[int, int]) -> float:
    """Ticks used meanwhile by processes alive at the end (new ones count from 0)."""
    return sum(now - before.get(pid, 0) for pid, now in after.items()) / _TICKS


def _host() -> tuple[int, int]:
    """(all ticks, idle + iowait ticks) over every core, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]
