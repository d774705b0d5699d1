"""Specification of `UrlResolver`: request path + query -> (key, ResizeOptions).

Three spellings reach one variant: the query form (`/cat.jpg?w=400`), presets
(`?preset=thumb`) and path templates (`/processed_images/400x300/cat.jpg`,
`/thumb/cat.jpg`). They must give equal `ResizeOptions`, hence one `.canonical`
name and one cached, stored variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from proxy.errors import BadOption, BadRequest
from proxy.options import ResizeOptions, parse_options
from proxy.urls import ImageRequest, UrlResolver

PREFIX = "_variants/"
MAX = 5000
PRESETS = {
    "thumb": "w=200&h=200&fit=cover",
    "card": "w=600&h=400&fit=cover&fm=webp",
    "wide": "w=1200",
}
TEMPLATES = ("/processed_images/{w}x{h}/{key}", "/{preset}/{key}")


def resolver(
    *,
    presets: dict[str, str] | None = None,
    only_presets: bool = False,
    templates: Sequence[str] = (),
) -> UrlResolver:
    return UrlResolver(
        result_prefix=PREFIX,
        max_dimension=MAX,
        presets=PRESETS if presets is None else presets,
        only_presets=only_presets,
        templates=templates,
    )


def pairs(text: str) -> list[tuple[str, str]]:
    """'w=200&fm=jpg' -> [('w', '200'), ('fm', 'jpg')] (values taken literally)."""
    if not text:
        return []
    return [tuple(pair.split("=", 1)) for pair in text.split("&")]  # type: ignore[misc]


def options(text: str) -> ResizeOptions | None:
    """What the plain query form gives: the reference every other spelling must match."""
    return parse_options(pairs(text), max_dimension=MAX)


def canonical(request: ImageRequest) -> str:
    assert request.options is not None
    return request.options.canonical


# --- the plain query form -------------------------------------------------------------


def test_query_form_gives_the_key_and_its_options() -> None:
    request = resolver().resolve("/original_images/cat.jpg", pairs("w=400&fm=webp"))

    assert request == ImageRequest("original_images/cat.jpg", options("w=400&fm=webp"))
    assert canonical(request) == "w=400&fit=contain&fm=webp&bg=ffffff"


def test_no_query_means_the_original() -> None:
    assert resolver().resolve("/cat.jpg", []) == ImageRequest("cat.jpg", None)


@pytest.mark.parametrize(
    "query",
    ["s=abc", "exp=1700000000", "s=abc&exp=1700000000", "exp=not-a-number&s=&s=twice"],
)
def test_signature_and_expiry_alone_still_mean_the_original(query: str) -> None:
    assert resolver().resolve("/cat.jpg", pairs(query)) == ImageRequest("cat.jpg", None)


def test_signature_and_expiry_are_not_options() -> None:
    plain = resolver().resolve("/cat.jpg", pairs("w=400&h=300"))
    signed = resolver().resolve("/cat.jpg", pairs("w=400&exp=1700000000&h=300&s=xyz"))

    assert signed == plain


def test_unknown_parameter_is_a_400_naming_it() -> None:
    with pytest.raises(BadOption) as caught:
        resolver().resolve("/cat.jpg", pairs("w=400&width=400"))
    assert caught.value.param == "width"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/", "key: missing"),
        ("/a/../b.jpg", "key: empty, '.' or '..' segments are not allowed"),
        ("//cat.jpg", "key: empty, '.' or '..' segments are not allowed"),
        ("/_variants/x.jpg", "key: reserved for stored variants"),
    ],
)
def test_query_form_keys_are_validated(path: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        resolver().resolve(path, pairs("w=400"))
    assert caught.value.message == message


# --- presets --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_expands_to_its_query(name: str) -> None:
    request = resolver().resolve("/cat.jpg", [("preset", name)])

    assert request == ImageRequest("cat.jpg", options(PRESETS[name]))


def test_options_of_preset_equals_the_url_form() -> None:
    urls = resolver()
    assert urls.options_of_preset("card") == options("w=600&h=400&fit=cover&fm=webp")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("preset=thumb&fm=webp", "w=200&h=200&fit=cover&fm=webp"),
        ("fm=webp&preset=thumb", "w=200&h=200&fit=cover&fm=webp"),
        ("preset=thumb&w=100", "w=100&h=200&fit=cover"),
        ("preset=thumb&fit=pad&bg=f80", "w=200&h=200&fit=pad&bg=f80"),
        ("preset=card&fm=avif&q=50", "w=600&h=400&fit=cover&fm=avif&q=50"),
        ("preset=wide&dpr=2", "w=2400"),
        ("preset=thumb&exp=1&s=x", "w=200&h=200&fit=cover"),
    ],
)
def test_explicit_parameters_override_the_preset(query: str, expected: str) -> None:
    request = resolver().resolve("/cat.jpg", pairs(query))

    assert request.options == options(expected)


@pytest.mark.parametrize("query", ["preset=nope", "preset=", "preset=THUMB", "preset=thumb "])
def test_unknown_preset_is_a_400_naming_preset(query: str) -> None:
    with pytest.raises(BadOption) as caught:
        resolver().resolve("/cat.jpg", pairs(query))
    assert caught.value.param == "preset"
    assert caught.value.status == 400


def test_no_presets_configured_means_every_preset_is_unknown() -> None:
    with pytest.raises(BadOption) as caught:
        resolver(presets={}).resolve("/cat.jpg", pairs("preset=thumb"))
    assert caught.value.param == "preset"


@pytest.mark.parametrize(
    "query", ["preset=thumb&preset=card", "preset=thumb&preset=thumb", "preset=thumb&preset=nope"]
)
def test_repeated_preset_is_a_400_naming_preset(query: str) -> None:
    with pytest.raises(BadOption) as caught:
        resolver().resolve("/cat.jpg", pairs(query))
    assert caught.value.param == "preset"
    assert caught.value.problem == "given more than once"


def test_preset_with_a_bad_explicit_parameter_names_that_parameter() -> None:
    with pytest.raises(BadOption) as caught:
        resolver().resolve("/cat.jpg", pairs("preset=thumb&q=0"))
    assert caught.value.param == "q"


# --- only presets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("w=400", "w"),
        ("h=300&w=400", "h"),
        ("fm=webp", "fm"),
        ("dpr=2", "dpr"),
        ("preset=thumb&fm=webp", "fm"),
        ("fm=webp&preset=thumb", "fm"),
        ("preset=thumb&w=100", "w"),
        ("bogus=1", "bogus"),
    ],
)
def test_only_presets_refuses_any_explicit_parameter_by_name(query: str, named: str) -> None:
    with pytest.raises(BadOption) as caught:
        resolver(only_presets=True).resolve("/cat.jpg", pairs(query))
    assert caught.value.param == named
    assert caught.value.status == 400


def test_only_presets_serves_presets() -> None:
    request = resolver(only_presets=True).resolve("/cat.jpg", pairs("preset=thumb"))
    assert request == ImageRequest("cat.jpg", options(PRESETS["thumb"]))


def test_only_presets_serves_signed_presets() -> None:
    request = resolver(only_presets=True).resolve("/cat.jpg", pairs("preset=thumb&exp=9&s=x"))
    assert request.options == options(PRESETS["thumb"])


@pytest.mark.parametrize("query", ["", "s=abc&exp=1700000000"])
def test_only_presets_still_serves_the_original(query: str) -> None:
    request = resolver(only_presets=True).resolve("/cat.jpg", pairs(query))
    assert request == ImageRequest("cat.jpg", None)


def test_only_presets_still_refuses_unknown_presets() -> None:
    with pytest.raises(BadOption) as caught:
        resolver(only_presets=True).resolve("/cat.jpg", pairs("preset=nope"))
    assert caught.value.param == "preset"


# --- path templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key", "query"),
    [
        ("/processed_images/400x300/cat.jpg", "cat.jpg", "w=400&h=300"),
        ("/processed_images/1x1/a/b/c.png", "a/b/c.png", "w=1&h=1"),
        ("/processed_images/5000x5000/été/猫.jpg", "été/猫.jpg", "w=5000&h=5000"),
        ("/processed_images/0400x0300/cat.jpg", "cat.jpg", "w=400&h=300"),
    ],
)
def test_size_template_equals_the_query_form(path: str, key: str, query: str) -> None:
    urls = resolver(templates=TEMPLATES)

    from_template = urls.resolve(path, [])
    from_query = urls.resolve("/" + key, pairs(query))

    assert from_template == from_query
    assert from_template.key == key
    assert canonical(from_template) == canonical(from_query)


def test_size_template_combines_with_query_parameters() -> None:
    request = resolver(templates=TEMPLATES).resolve(
        "/processed_images/400x300/cat.jpg", pairs("fit=cover&fm=webp&s=x&exp=9")
    )
    assert request == ImageRequest("cat.jpg", options("w=400&h=300&fit=cover&fm=webp"))


def test_size_given_both_in_the_template_and_the_query_is_a_400() -> None:
    with pytest.raises(BadOption) as caught:
        resolver(templates=TEMPLATES).resolve("/processed_images/400x300/cat.jpg", pairs("w=10"))
    assert caught.value.param == "w"


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_template_equals_the_preset_query(name: str) -> None:
    urls = resolver(templates=TEMPLATES)

    from_template = urls.resolve(f"/{name}/original_images/cat.jpg", [])
    from_query = urls.resolve("/original_images/cat.jpg", [("preset", name)])

    assert from_template == from_query
    assert from_template.key == "original_images/cat.jpg"
    assert canonical(from_template) == canonical(from_query)


def test_preset_template_takes_overrides_from_the_query() -> None:
    request = resolver(templates=TEMPLATES).resolve("/thumb/cat.jpg", pairs("fm=webp"))
    assert request.options == options("w=200&h=200&fit=cover&fm=webp")


def test_preset_in_template_and_query_is_a_repeated_preset() -> None:
    with pytest.raises(BadOption) as caught:
        resolver(templates=TEMPLATES).resolve("/thumb/cat.jpg", pairs("preset=card"))
    assert caught.value.param == "preset"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/original_images/cat.jpg", "original_images/cat.jpg"),
        ("/thumbnail/cat.jpg", "thumbnail/cat.jpg"),  # a preset name is only a prefix
        ("/xthumb/cat.jpg", "xthumb/cat.jpg"),
        ("/Thumb/cat.jpg", "Thumb/cat.jpg"),
        ("/cat.jpg", "cat.jpg"),
        ("/photos/thumb/cat.jpg", "photos/thumb/cat.jpg"),  # only at the start
        ("/processed_images/400/cat.jpg", "processed_images/400/cat.jpg"),
        ("/processed_images/400x/cat.jpg", "processed_images/400x/cat.jpg"),
        ("/processed_images/axb/cat.jpg", "processed_images/axb/cat.jpg"),
        ("/processed_images/400x300", "processed_images/400x300"),
        ("/x/processed_images/400x300/cat.jpg", "x/processed_images/400x300/cat.jpg"),
    ],
)
def test_paths_the_templates_do_not_match_are_plain_keys(path: str, key: str) -> None:
    assert resolver(templates=TEMPLATES).resolve(path, []) == ImageRequest(key, None)


def test_preset_template_matches_nothing_without_presets() -> None:
    urls = resolver(presets={}, templates=("/{preset}/{key}",))
    assert urls.resolve("/thumb/cat.jpg", []) == ImageRequest("thumb/cat.jpg", None)


def test_preset_names_are_matched_literally() -> None:
    urls = resolver(presets={"a.b": "w=10"}, templates=("/{preset}/{key}",))

    assert urls.resolve("/a.b/cat.jpg", []).options == options("w=10")
    assert urls.resolve("/axb/cat.jpg", []) == ImageRequest("axb/cat.jpg", None)


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/processed_images/0x300/cat.jpg", "w"),
        ("/processed_images/400x0/cat.jpg", "h"),
        ("/processed_images/5001x300/cat.jpg", "w"),
        ("/processed_images/400x99999/cat.jpg", "h"),
        ("/processed_images/1234567x300/cat.jpg", "w"),
    ],
)
def test_template_values_out_of_range_are_a_400(path: str, param: str) -> None:
    with pytest.raises(BadOption) as caught:
        resolver(templates=TEMPLATES).resolve(path, [])
    assert caught.value.param == param
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("template", "path", "query"),
    [
        ("/img/{fit}/{w}x{h}/{key}", "/img/cover/300x200/cat.jpg", "fit=cover&w=300&h=200"),
        ("/img/{fm}/{key}", "/img/jpg/cat.jpg", "fm=jpeg"),
        ("/img/{fm}/{key}", "/img/jpeg/cat.jpg", "fm=jpg"),
        ("/img/q{q}/{key}", "/img/q75/cat.jpg", "q=75"),
        ("/img/{w}@{dpr}x/{key}", "/img/200@1.5x/cat.jpg", "w=300"),
    ],
)
def test_other_placeholders_equal_the_query_form(template: str, path: str, query: str) -> None:
    urls = resolver(templates=(template,))

    request = urls.resolve(path, [])

    assert request.key == "cat.jpg"
    assert request.options == options(query)


@pytest.mark.parametrize(
    ("template", "path", "param"),
    [
        ("/img/{dpr}x/{w}/{key}", "/img/9x/200/cat.jpg", "dpr"),
        ("/img/{dpr}x/{w}/{key}", "/img/1.555x/200/cat.jpg", "dpr"),
        ("/img/q{q}/{key}", "/img/q0/cat.jpg", "q"),
        ("/img/q{q}/{key}", "/img/q101/cat.jpg", "q"),
    ],
)
def test_other_template_values_out_of_range_are_a_400(template: str, path: str, param: str) -> None:
    with pytest.raises(BadOption) as caught:
        resolver(templates=(template,)).resolve(path, [])
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/processed_images/400x300/../secret.jpg", "'..'"),
        ("/processed_images/400x300/a/../../b.jpg", "'..'"),
        ("/processed_images/400x300/a//b.jpg", "empty"),
        ("/processed_images/400x300/a/", "empty"),
        ("/processed_images/400x300/_variants/x.jpg", "reserved"),
        ("/processed_images/400x300/a\x00.jpg", "control"),
        ("/thumb/../secret.jpg", "'..'"),
        ("/thumb/./cat.jpg", "'.'"),
        ("/thumb/_variants/w=200/cat.jpg", "reserved"),
        ("/thumb//cat.jpg", "empty"),
    ],
)
def test_keys_from_templates_are_still_validated(path: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        resolver(templates=TEMPLATES).resolve(path, [])
    assert caught.value.message.startswith("key: ")
    assert message in caught.value.message


def test_first_matching_template_wins() -> None:
    urls = resolver(templates=("/{preset}/{key}", "/thumb/{w}/{key}"))
    assert urls.resolve("/thumb/100/cat.jpg", []) == ImageRequest(
        "100/cat.jpg", options(PRESETS["thumb"])
    )


def test_only_presets_refuses_size_templates_by_name() -> None:
    with pytest.raises(BadOption) as caught:
        resolver(only_presets=True, templates=TEMPLATES).resolve(
            "/processed_images/400x300/cat.jpg", []
        )
    assert caught.value.param in ("w", "h")


def test_only_presets_serves_preset_templates() -> None:
    request = resolver(only_presets=True, templates=TEMPLATES).resolve("/card/cat.jpg", [])
    assert request == ImageRequest("cat.jpg", options(PRESETS["card"]))


# --- keys for writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/cat.jpg", "cat.jpg"),
        ("/original_images/2024/cat.jpg", "original_images/2024/cat.jpg"),
        ("/été/猫.jpg", "été/猫.jpg"),
        ("/with space+plus.jpg", "with space+plus.jpg"),
        # Writes use only the plain form: templates are not applied.
        ("/thumb/cat.jpg", "thumb/cat.jpg"),
        ("/processed_images/400x300/cat.jpg", "processed_images/400x300/cat.jpg"),
    ],
)
def test_key_for_writes_is_the_plain_path(path: str, key: str) -> None:
    assert resolver(templates=TEMPLATES).key(path) == key


@pytest.mark.parametrize(
    "path", ["/", "", "//cat.jpg", "/a/../b.jpg", "/a/", "/_variants/x.jpg", "/a\x7f.jpg"]
)
def test_key_for_writes_is_validated(path: str) -> None:
    with pytest.raises(BadRequest):
        resolver(templates=TEMPLATES).key(path)
