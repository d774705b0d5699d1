"""Typed application keys: the long-lived objects the composition root provides."""

from __future__ import annotations

from aiohttp import web

from .cache import MemoryCache
from .config import Config
from .health import Readiness
from .lifecycle import Lifecycle
from .metrics import Metrics
from .originals import Originals
from .renderer import Renderer
from .storage import ObjectStore
from .urls import UrlResolver
from .variants import Variant, Variants

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", ObjectStore)
RENDERER = web.AppKey("renderer", Renderer)
MEMORY = web.AppKey("memory", MemoryCache[tuple[str, str], Variant])
VARIANTS = web.AppKey("variants", Variants)
ORIGINALS = web.AppKey("originals", Originals)
URLS = web.AppKey("urls", UrlResolver)
READINESS = web.AppKey("readiness", Readiness)
METRICS = web.AppKey("metrics", Metrics)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
