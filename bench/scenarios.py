"""The scenarios and the references, one method each; every one returns a `Measurement`.

Every proxy scenario starts its own proxy with a result prefix of its own, so
nothing one scenario rendered or stored can be served to another, and each
peak RSS is that scenario's alone.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .burst import burst
from .cpu import CpuMeter, CpuUse
from .images import PHOTO_10MP, PHOTO_24MP
from .procs import Processes, http_get
from .report import Measurement
from .rss import MIB, MemoryPeak, TreeSampler
from .storage import Storage
from .targets import ROOT, ProxySettings, Target, nginx, proxy, thumbor
from .wrk import Load, WrkResult, run_wrk, script

#: The cold path: widths x qualities distinct variants (4,200), each asked for once.
WIDTHS = (300, 499)
QUALITIES = (75, 95)
COLD_PATH = f"/{PHOTO_10MP.key}?w={{w}}&q={{q}}&fm=jpg"
THUMBOR_PATH = f"/unsafe/{{w}}x0/filters:quality({{q}})/{PHOTO_10MP.key}"
#: The result-store path cycles over this many stored variants.
STORED_VARIANTS = 64
HOT_PATH = f"/{PHOTO_10MP.key}?w=400&q=85&fm=jpg"
#: The memory scenario: 24 widths that all need a full-size decode of the 24 MP photo.
BURST_WIDTHS = range(2400, 4800, 100)


@dataclass
class Bench:
    procs: Processes
    storage: Storage
    load: Load
    workdir: Path
    photo_10mp: Path
    round: int = 0

    # --- references ------------------------------------------------------------

    def bare(self) -> Measurement:
        """Two processes looping decode (draft) -> resize -> encode, no HTTP, no S3."""
        processes = 2
        logs = [self.workdir / f"bare-{self.round}-{i}.json" for i in range(processes)]
        started = [
            self.procs.start(
                [
                    sys.executable,
                    "-m",
                    "bench.bare",
                    str(self.photo_10mp),
                    f"--seconds={self.load.duration:g}",
                    f"--index={i}",
                    f"--step={processes}",
                ],
                log=log,
                cwd=ROOT,
            )
            for i, log in enumerate(logs)
        ]
        with TreeSampler(*(p.pid for p in started)) as memory, CpuMeter(()) as host:
            for process in started:
                if self.procs.wait(process, timeout=self.load.duration + 60) != 0:
                    raise RuntimeError(f"the bare render loop failed: {process.args!r}")
        reports = [json.loads(log.read_text()) for log in logs]
        per_process = [report["durations_ms"] for report in reports]
        everything = sorted(ms for durations in per_process for ms in durations)
        rps = sum(len(ds) / (sum(ds) / 1000) for ds in per_process)
        cpu_seconds = sum(report["cpu_seconds"] for report in reports)
        busy = host.use.host_busy * 100
        return Measurement(
            key="bare",
            label="bare render loop (2 processes, q=85)",
            rps=rps,
            p50_ms=statistics.median(everything),
            p99_ms=_percentile(everything, 0.99),
            peak_rss_mib=memory.peak.rss_bytes / MIB,
            cpu_ms=cpu_seconds * 1000 / max(1, len(everything)),
            note=f"{len(everything)} renders; latency = one render; host busy {busy:.0f}%",
            detail={
                "renders": [len(ds) for ds in per_process],
                "cpu_seconds": cpu_seconds,
                "memory": memory.peak.as_json(),
                "host_busy_pct": round(busy, 1),
            },
        )

    def nginx(self, body: bytes) -> Measurement:
        with nginx(self.procs, {"variant.jpg": body}, workdir=self.workdir) as target:
            measured = self._wrk(target, "nginx", script(), [], path="/variant.jpg")
        return _measurement("nginx", "nginx static file (same bytes)", *measured)

    def thumbor(self) -> Measurement:
        with thumbor(self.procs, self.storage, workdir=self.workdir) as target:
            warm = THUMBOR_PATH.format(w=WIDTHS[0] - 1, q=85)
            _expect(http_get(target.base_url + warm), 200, None, "thumbor warm-up")
            args = self._unique(THUMBOR_PATH)
            measured = self._wrk(target, "thumbor", script("unique"), args)
        return _measurement("thumbor", "thumbor 7.8 cold (thumbor-aws)", *measured)

    # --- the proxy ---------------------------------------------------------------

    def cold(self) -> Measurement:
        with self._proxy("cold") as target:
            warm = COLD_PATH.format(w=WIDTHS[0] - 1, q=85)  # outside the measured range
            _expect(http_get(target.base_url + warm), 200, "MISS", "cold warm-up")
            args = self._unique(COLD_PATH)
            measured = self._wrk(target, "cold", script("tally", "unique"), args)
        unique = (WIDTHS[1] - WIDTHS[0] + 1) * (QUALITIES[1] - QUALITIES[0] + 1)
        result = measured[0]
        note = _cache_note(result) + ("" if result.requests <= unique else "; URLs repeated!")
        return _measurement("cold", "proxy cold (every URL new)", *measured, note)

    def store(self) -> Measurement:
        paths = [
            f"/{PHOTO_10MP.key}?w={w}&q=85&fm=jpg"
            for w in range(WIDTHS[0], WIDTHS[0] + STORED_VARIANTS)
        ]
        with self._proxy("store", memory_cache_mb=0) as target:
            _prerender(target, paths)
            measured = self._wrk(target, "store", script("tally", "cycle"), paths)
        label = f"proxy result store ({STORED_VARIANTS} variants, memory cache off)"
        return _measurement("store", label, *measured, _cache_note(measured[0]))

    def hot(self) -> tuple[Measurement, bytes]:
        """One variant over and over (a memory hit); also returns its bytes for nginx."""
        with self._proxy("hot") as target:
            _expect(http_get(target.base_url + HOT_PATH), 200, "MISS", "hot warm-up")
            body = _expect(http_get(target.base_url + HOT_PATH), 200, "HIT-MEMORY", "hot check")
            measured = self._wrk(target, "hot", script(), [], path=HOT_PATH)
        label = f"proxy hot (one variant, memory hit, {len(body) // 1024} KiB)"
        return _measurement("hot", label, *measured), body

    def memory(self) -> Measurement:
        """24 concurrent cold requests for different variants of the 24 MP photo."""
        urls_of = [f"/{PHOTO_24MP.key}?w={w}&q=85&fm=jpg" for w in BURST_WIDTHS]
        with self._proxy("memory") as target:
            urls = [target.base_url + path for path in urls_of]
            with TreeSampler(target.pid) as memory, self._cpu(target) as cpu:
                result = burst(urls)
        requests = len(result.answers)
        detail = {
            **result.as_json(),
            "memory": memory.peak.as_json(),
            "cpu": cpu.use.as_json(requests),
        }
        statuses = ", ".join(f"{n}x {status}" for status, n in result.statuses.items())
        verdict = "" if result.acceptable else "; UNEXPECTED statuses"
        target_ms, s3_ms = cpu.use.per_request_ms(requests)
        return Measurement(
            key="memory",
            label=f"proxy memory: {requests} concurrent 24 MP cold renders",
            rps=result.rps,
            p50_ms=result.percentile_ms(0.5),
            p99_ms=result.percentile_ms(0.99),
            peak_rss_mib=memory.peak.rss_bytes / MIB,
            cpu_ms=target_ms,
            s3_cpu_ms=s3_ms,
            note=f"{statuses}; PSS {memory.peak.pss_bytes / MIB:.0f} MiB{verdict}",
            detail=detail,
        )

    # --- helpers -----------------------------------------------------------------

    def _proxy(self, scenario: str, memory_cache_mb: int = 256) -> AbstractContextManager[Target]:
        stamp = f"{int(time.time())}-{self.round}"
        settings = ProxySettings(
            result_prefix=f"_bench/{stamp}/{scenario}/", memory_cache_mb=memory_cache_mb
        )
        log = self.workdir / f"proxy-{scenario}-{self.round}.log"
        return proxy(self.procs, self.storage, settings, log=log)

    def _unique(self, template: str) -> list[str]:
        return [template, str(self.load.threads), *map(str, WIDTHS), *map(str, QUALITIES)]

    def _cpu(self, target: Target) -> CpuMeter:
        return CpuMeter((target.pid,), (self.storage.pid,))

    def _wrk(
        self, target: Target, name: str, lua: str, args: list[str], path: str = "/"
    ) -> tuple[WrkResult, MemoryPeak, CpuUse]:
        with TreeSampler(target.pid) as memory, self._cpu(target) as cpu:
            result = run_wrk(
                self.procs,
                target.base_url + path,
                load=self.load,
                lua=lua,
                args=args,
                workdir=self.workdir,
                name=f"{name}-{self.round}",
            )
        return result, memory.peak, cpu.use


def _measurement(
    key: str, label: str, result: WrkResult, memory: MemoryPeak, cpu: CpuUse, note: str = ""
) -> Measurement:
    notes = [note or f"{result.requests} requests"]
    if result.failed:
        notes.append("errors: " + ", ".join(f"{n} {kind}" for kind, n in result.errors.items()))
    target_ms, s3_ms = cpu.per_request_ms(result.requests)
    if s3_ms >= 0.05:
        notes.append(f"+S3 {s3_ms:.1f} ms CPU/req")
    notes.append(f"host busy {cpu.host_busy * 100:.0f}%")
    return Measurement(
        key=key,
        label=label,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        peak_rss_mib=memory.rss_bytes / MIB,
        cpu_ms=target_ms,
        s3_cpu_ms=s3_ms,
        note="; ".join(notes),
        detail={
            "wrk": result.as_json(),
            "memory": memory.as_json(),
            "cpu": cpu.as_json(result.requests),
        },
    )


def _cache_note(result: WrkResult) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(result.cache.items()))


def _prerender(target: Target, paths: list[str], attempts: int = 50) -> None:
    """Render each variant and wait until it is served from the result store
    (the write to S3 happens after the first response)."""

    def until_stored(path: str) -> None:
        for _ in range(attempts):
            status, headers, _ = http_get(target.base_url + path)
            if status == 200 and headers.get("X-Cache-Status") == "HIT-STORE":
                return
            time.sleep(0.05)
        raise RuntimeError(f"{path} never came from the result store")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(until_stored, paths))


def _expect(
    answer: tuple[int, dict[str, str], bytes], status: int, cache: str | None, what: str
) -> bytes:
    got_status, headers, body = answer
    got_cache = headers.get("X-Cache-Status")
    if got_status != status or (cache is not None and got_cache != cache):
        raise RuntimeError(f"{what}: got {got_status} {got_cache}, expected {status} {cache}")
    return body


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0
