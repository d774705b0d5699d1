"""Peak memory of a process tree (the proxy with its forkserver and render workers).

A thread samples every 100 ms: it sums the current VmRSS of every process in
the tree and keeps the largest sum. RSS counts pages shared between the
forked processes once per process, so the sum overstates what the tree really
holds; the proportional set size (Pss, shared pages split between sharers) is
sampled as well for that reason. VmHWM (each process's own peak RSS, kept by
the kernel) is summed at the end as an upper bound that no sampling can miss.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_PROC = Path("/proc")
MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryPeak:
    #: Largest sum of current RSS over the tree seen by one sample (the headline).
    rss_bytes: int
    #: Largest sum of Pss seen by one sample.
    pss_bytes: int
    #: Sum of each process's own VmHWM (peak RSS), at different moments.
    hwm_bytes: int
    #: RSS sum of the first sample: the tree at rest before the load.
    baseline_rss_bytes: int
    processes: int
    samples: int
    #: Each process's own peak RSS in MiB, by "PID command".
    hwm_by_process: dict[str, float]

    def as_json(self) -> dict[str, object]:
        return {
            "peak_rss_mib": round(self.rss_bytes / MIB, 1),
            "peak_pss_mib": round(self.pss_bytes / MIB, 1),
            "sum_hwm_mib": round(self.hwm_bytes / MIB, 1),
            "baseline_rss_mib": round(self.baseline_rss_bytes / MIB, 1),
            "processes": self.processes,
            "samples": self.samples,
            "hwm_mib_by_process": self.hwm_by_process,
        }


def tree(*roots: int) -> list[int]:
    """The roots and all of their descendants, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces; the ppid follows it.
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = list(roots)
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def _status_kib(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in fields:
                values[name] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values


def _pss_kib(pid: int) -> int:
    try:
        for line in (_PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _command(pid: int, limit: int = 60) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:limit]


class TreeSampler:
    """`with TreeSampler(pid) as memory:` samples the tree(s); then `memory.peak`."""

    def __init__(self, *roots: int, interval: float = 0.1, rescan: float = 0.5) -> None:
        self._roots = roots
        self._interval = interval
        self._rescan_every = max(1, round(rescan / interval))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._peak_rss = self._peak_pss = self._baseline = self._samples = 0
        self._hwm: dict[int, int] = {}
        self._names: dict[int, str] = {}
        self._peak: MemoryPeak | None = None

    def __enter__(self) -> TreeSampler:
        self._sample(tree(*self._roots))
        self._baseline = self._peak_rss
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(tree(*self._roots))
        self._peak = MemoryPeak(
            rss_bytes=self._peak_rss * 1024,
            pss_bytes=self._peak_pss * 1024,
            hwm_bytes=sum(self._hwm.values()) * 1024,
            baseline_rss_bytes=self._baseline * 1024,
            processes=len(self._hwm),
            samples=self._samples,
            hwm_by_process={
                f"{pid} {self._names.get(pid, '?')}": round(kib / 1024, 1)
                for pid, kib in self._hwm.items()
            },
        )

    @property
    def peak(self) -> MemoryPeak:
        if self._peak is None:
            raise RuntimeError("the sampler has not finished")
        return self._peak

    def _run(self) -> None:
        pids = tree(*self._roots)
        count = 0
        while not self._stop.wait(self._interval):
            count += 1
            if count % self._rescan_every == 0:
                pids = tree(*self._roots)
            self._sample(pids)

    def _sample(self, pids: list[int]) -> None:
        rss = pss = 0
        for pid in pids:
            status = _status_kib(pid, ("VmRSS", "VmHWM"))
            if not status:
                continue
            rss += status.get("VmRSS", 0)
            pss += _pss_kib(pid)
            self._hwm[pid] = max(self._hwm.get(pid, 0), status.get("VmHWM", 0))
            if pid not in self._names:
                self._names[pid] = _command(pid)
        self._peak_rss = max(self._peak_rss, rss)
        self._peak_pss = max(self._peak_pss, pss)
        self._samples += 1
