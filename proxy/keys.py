"""Typed application keys: the long-lived objects the composition root provides."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .cache import MemoryCache
from .config import Config
from .health import Readiness
from .renderer import Renderer
from .storage import ObjectStore
from .variants import Variant, Variants

CONFIG = web.AppKey("config", Config)
S3_CLIENT = web.AppKey("s3_client", Any)
STORE = web.AppKey("store", ObjectStore)
RENDERER = web.AppKey("renderer", Renderer)
MEMORY = web.AppKey("memory", MemoryCache[tuple[str, str], Variant])
VARIANTS = web.AppKey("variants", Variants)
READINESS = web.AppKey("readiness", Readiness)
