"""Results: one `Measurement` per scenario and round, medians over rounds, the
ratios against the references, and the markdown and JSON they are written as."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measurement:
    key: str  #: stable id: bare, cold, thumbor, store, hot, nginx, memory
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float | None
    #: CPU milliseconds the target's processes spent per request (not counting S3).
    cpu_ms: float | None = None
    #: CPU milliseconds SeaweedFS spent per request.
    s3_cpu_ms: float = 0.0
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def total_cpu_ms(self) -> float | None:
        return None if self.cpu_ms is None else self.cpu_ms + self.s3_cpu_ms


@dataclass(frozen=True)
class Ratio:
    label: str
    value: float | None  #: None when a side was not measured
    target: float | None  #: None: shown for information
    at_least: bool = True  #: True: value >= target passes; False: value <= target passes
    unit: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.at_least else self.value <= self.target

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        return {True: "pass", False: "**FAIL**", None: "(info)"}[self.passed]


def combine(rounds: Sequence[Measurement]) -> Measurement:
    """Medians over rounds of req/s, latencies and CPU; the largest peak RSS (a
    limit must hold every time, not typically). The notes are the median round's."""
    if len(rounds) == 1:
        return rounds[0]
    middle = sorted(rounds, key=lambda m: m.rps)[len(rounds) // 2]
    peaks = [m.peak_rss_mib for m in rounds if m.peak_rss_mib is not None]
    cpus = [m.cpu_ms for m in rounds if m.cpu_ms is not None]
    rss_note = f" (RSS: max; median {statistics.median(peaks):.0f} MiB)" if peaks else ""
    return Measurement(
        key=middle.key,
        label=middle.label,
        rps=statistics.median(m.rps for m in rounds),
        p50_ms=statistics.median(m.p50_ms for m in rounds),
        p99_ms=statistics.median(m.p99_ms for m in rounds),
        peak_rss_mib=max(peaks) if peaks else None,
        cpu_ms=statistics.median(cpus) if cpus else None,
        s3_cpu_ms=statistics.median(m.s3_cpu_ms for m in rounds),
        note=f"median of {len(rounds)}{rss_note}; median round: {middle.note}",
        detail={"rounds": [asdict(m) for m in rounds]},
    )


def ratios(results: dict[str, Measurement]) -> list[Ratio]:
    """The targets on req/s; and, for information, the same pairs by CPU time per
    request (S3's included), which the neighbours' load on a shared host barely moves."""

    def rate(over: str, under: str) -> float | None:
        if over in results and under in results and results[under].rps > 0:
            return results[over].rps / results[under].rps
        return None

    def cpu(over: str, under: str) -> float | None:
        if over not in results or under not in results:
            return None
        mine, theirs = results[over].total_cpu_ms, results[under].total_cpu_ms
        return theirs / mine if mine and theirs else None

    memory = results.get("memory")
    return [
        Ratio("proxy cold / bare render loop", rate("cold", "bare"), 0.9),
        Ratio("proxy cold / thumbor cold", rate("cold", "thumbor"), 2.5),
        Ratio("proxy hot / nginx static", rate("hot", "nginx"), 0.5),
        Ratio(
            "peak RSS, 24 concurrent 24 MP renders",
            memory.peak_rss_mib if memory else None,
            512,
            at_least=False,
            unit=" MiB",
        ),
        Ratio("by CPU/request: bare loop / proxy cold (+S3)", cpu("cold", "bare"), None),
        Ratio("by CPU/request: thumbor (+S3) / proxy cold (+S3)", cpu("cold", "thumbor"), None),
        Ratio("by CPU/request: nginx / proxy hot", cpu("hot", "nginx"), None),
    ]


def markdown(results: Sequence[Measurement], checks: Sequence[Ratio]) -> str:
    lines = [
        "| Scenario | req/s | p50 | p99 | peak RSS | CPU/req | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for m in results:
        rss = f"{m.peak_rss_mib:.0f} MiB" if m.peak_rss_mib is not None else "-"
        cpu = _ms(m.cpu_ms) if m.cpu_ms is not None else "-"
        lines.append(
            f"| {m.label} | {_rate(m.rps)} | {_ms(m.p50_ms)} | {_ms(m.p99_ms)} | {rss} "
            f"| {cpu} | {m.note} |"
        )
    lines += ["", "| Ratio | value | target | |", "|---|---:|---:|---|"]
    for r in checks:
        value = "-" if r.value is None else _ratio(r.value, r.unit)
        if r.target is None:
            target = ""
        else:
            target = (">= " if r.at_least else "<= ") + _ratio(r.target, r.unit)
        lines.append(f"| {r.label} | {value} | {target} | {r.verdict} |")
    return "\n".join(lines)


def read_json(path: Path) -> list[Measurement]:
    """The measurements of a saved run, combined again (for `--report`)."""
    document = json.loads(path.read_text())
    results = []
    for saved in document["results"].values():
        rounds = saved["detail"].get("rounds") or [saved]
        results.append(combine([Measurement(**measured) for measured in rounds]))
    return results


def write_json(
    path: Path, meta: dict[str, Any], results: Sequence[Measurement], checks: Sequence[Ratio]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "meta": meta,
        "results": {m.key: asdict(m) for m in results},
        "ratios": [{**asdict(r), "passed": r.passed} for r in checks],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _ms(value: float) -> str:
    formats: list[tuple[float, Callable[[float], str]]] = [
        (1, lambda v: f"{v:.2f} ms"),
        (100, lambda v: f"{v:.1f} ms"),
        (float("inf"), lambda v: f"{v:.0f} ms"),
    ]
    return next(fmt(value) for limit, fmt in formats if value < limit)


def _ratio(value: float, unit: str) -> str:
    return f"{value:.0f}{unit}" if unit else f"{value:.2f}"
