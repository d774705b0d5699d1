"""The README's configuration table is the one in proxy/config.py."""

from __future__ import annotations

from pathlib import Path

from proxy.config import SETTINGS

README = Path(__file__).parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme_table() -> None:
    text = README.read_text()
    table = text.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}

    assert documented == {setting.env for setting in SETTINGS}


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text
    assert "make test" in text


def test_the_readme_signing_example_is_what_the_code_signs() -> None:
    from proxy.signing import string_to_sign

    text = README.read_text()
    example = text.split("`GET /a b/cat.jpg?w=400&fm=webp&exp=1900000000` signs\n\n```\n")[1]
    documented = example.split("\n```")[0]

    pairs = [("w", "400"), ("fm", "webp"), ("exp", "1900000000")]
    assert documented == string_to_sign("GET", "/a b/cat.jpg", pairs)
