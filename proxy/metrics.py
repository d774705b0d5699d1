"""Prometheus metrics, one registry per application (no module globals).

Fixed names other tooling depends on: `proxy_renders_total` (renders started)
and `proxy_source_fetches_total` (GETs of originals from S3). With single-flight,
N identical cold requests move each by exactly one.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "proxy_requests",
            "HTTP requests by route, method, status and cache status.",
            ["route", "method", "status", "cache"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "proxy_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("proxy_inflight_requests", "Requests being served.", registry=r)
        self.renders = Counter("proxy_renders", "Renders started.", registry=r)
        self.render_seconds = Histogram(
            "proxy_render_duration_seconds",
            "Time in a render worker per render.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.render_queue = Gauge(
            "proxy_render_queue_depth", "Renders admitted and waiting for a worker.", registry=r
        )
        self.render_memory = Gauge(
            "proxy_render_memory_bytes",
            "Estimated memory held by admitted renders.",
            registry=r,
        )
        self.rejected = Counter(
            "proxy_render_rejections",
            "Renders refused with 503 by admission control, by reason.",
            ["reason"],
            registry=r,
        )
        self.source_fetches = Counter(
            "proxy_source_fetches", "GETs of originals from S3 (for rendering).", registry=r
        )
        self.s3_seconds = Histogram(
            "proxy_s3_request_duration_seconds",
            "S3 call latency by operation.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.s3_errors = Counter(
            "proxy_s3_errors",
            "Failed S3 calls by operation and error.",
            ["operation", "error"],
            registry=r,
        )
        self.store_writes = Counter(
            "proxy_result_store_writes", "Result-store writes by outcome.", ["outcome"], registry=r
        )
        self.memory_bytes = Gauge(
            "proxy_memory_cache_bytes", "Bytes of variants in the memory cache.", registry=r
        )
        self.memory_hits = Counter("proxy_memory_cache_hits", "Memory-cache hits.", registry=r)
        self.memory_misses = Counter(
            "proxy_memory_cache_misses", "Memory-cache misses.", registry=r
        )

        # Label children, looked up once: `labels()` costs a lock and a dict per call.
        self._request_children: dict[tuple[str, str, int, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def observe_request(
        self, route: str, method: str, status: int, cache: str, seconds: float
    ) -> None:
        key = (route, method, status, cache)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(
                route, method, str(status), cache
            )
        counter.inc()
        histogram = self._latency_children.get(route)
        if histogram is None:
            histogram = self._latency_children[route] = self.request_seconds.labels(route)
        histogram.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
