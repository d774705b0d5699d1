"""Request path + query -> which original, and which variant of it. Pure.

Three spellings reach the same `ResizeOptions` (and so the same variant, cached
and stored once): the query form (`/cat.jpg?w=400`), presets
(`/cat.jpg?preset=thumb`) and path templates for URLs kept from an older image
setup (`/processed_images/400x300/cat.jpg`, `/thumb/cat.jpg`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from cachetools import LRUCache

from .errors import BadOption
from .options import FITS, FORMAT_ALIASES, ResizeOptions, negotiate_format, parse_options
from .paths import parse_key
from .signing import EXPIRES_PARAM, SIGNATURE_PARAM

PRESET_PARAM = "preset"


@dataclass(frozen=True)
class ImageRequest:
    key: str
    options: ResizeOptions | None  # None: the original itself


class UrlResolver:
    def __init__(
        self,
        *,
        result_prefix: str,
        max_dimension: int,
        presets: Mapping[str, str],
        only_presets: bool = False,
        templates: Sequence[str] = (),
    ) -> None:
        self._result_prefix = result_prefix
        self._max_dimension = max_dimension
        self._presets = {
            name: tuple(parse_qsl(query, keep_blank_values=True)) for name, query in presets.items()
        }
        self._only_presets = only_presets
        self._templates = [_compile(template, list(presets)) for template in templates]
        # Only successful resolutions are kept (errors raise before the store).
        self._memo: LRUCache[tuple[str, str | None], tuple[str, ResizeOptions | None, bool]] = (
            LRUCache(maxsize=20_000)
        )

    def target(
        self,
        raw_path: str,
        accept: str | None,
        decoded: Callable[[], tuple[str, Sequence[tuple[str, str]]]],
    ) -> tuple[str, ResizeOptions | None, bool]:
        """Key, options with the format negotiated from `Accept`, and whether it was
        negotiated (the response then varies on Accept). Memoised by the raw
        request target and Accept: the hot path skips parsing entirely."""
        memo_key = (raw_path, accept)
        found = self._memo.get(memo_key)
        if found is None:
            path, query = decoded()
            request = self.resolve(path, query)
            options = request.options
            negotiated = options is not None and options.format is None
            if options is not None and negotiated:
                options = options.with_format(negotiate_format(accept))
            found = self._memo[memo_key] = (request.key, options, negotiated)
        return found

    def key(self, path: str) -> str:
        """The key of a plain `/{key}` path (uploads and deletes use only this form)."""
        return parse_key(path.removeprefix("/"), result_prefix=self._result_prefix)

    def resolve(self, path: str, query: Sequence[tuple[str, str]]) -> ImageRequest:
        params = [(n, v) for n, v in query if n not in (SIGNATURE_PARAM, EXPIRES_PARAM)]
        raw_key = path.removeprefix("/")
        for template in self._templates:
            match = template.fullmatch(path)
            if match:
                captured = match.groupdict()
                raw_key = captured.pop("key")
                params = list(captured.items()) + params
                break
        key = parse_key(raw_key, result_prefix=self._result_prefix)
        return ImageRequest(key, self._options(params))

    def options_of_preset(self, name: str) -> ResizeOptions:
        options = self._options([(PRESET_PARAM, name)])
        assert options is not None
        return options

    def _options(self, params: list[tuple[str, str]]) -> ResizeOptions | None:
        presets = [value for name, value in params if name == PRESET_PARAM]
        explicit = [(name, value) for name, value in params if name != PRESET_PARAM]
        if len(presets) > 1:
            raise BadOption(PRESET_PARAM, "given more than once")
        if self._only_presets and explicit:
            raise BadOption(explicit[0][0], "only presets are served here")
        if presets:
            preset = self._presets.get(presets[0])
            if preset is None:
                raise BadOption(PRESET_PARAM, "unknown preset")
            given = {name for name, _ in explicit}
            # Explicit parameters override the preset's (`?preset=thumb&fm=webp`).
            explicit = [(n, v) for n, v in preset if n not in given] + explicit
            if not explicit:
                raise BadOption(PRESET_PARAM, "preset has no options")
        return parse_options(explicit, max_dimension=self._max_dimension)


def _compile(template: str, preset_names: list[str]) -> re.Pattern[str]:
    patterns = {
        "w": r"[0-9]+",
        "h": r"[0-9]+",
        "q": r"[0-9]+",
        "dpr": r"[0-9]+(?:\.[0-9]+)?",
        "fit": "|".join(FITS),
        "fm": "|".join(FORMAT_ALIASES),
        # Only defined presets match, so `/{preset}/{key}` leaves other paths alone.
        "preset": "|".join(re.escape(name) for name in preset_names) or r"(?!)",
        "key": r".+",
    }
    regex = ""
    for literal, name in re.findall(r"([^{]*)(?:{(\w+)})?", template):
        regex += re.escape(literal)
        if name:
            regex += f"(?P<{name}>{patterns[name]})"
    return re.compile(regex)
