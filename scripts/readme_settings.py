"""Rewrite the README's settings table from proxy/config.py SETTINGS (run after adding one)."""

from __future__ import annotations

import re
from pathlib import Path

from proxy.config import SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"


def table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        if setting.default is None:
            default = "(required)"
        elif setting.default:
            default = f"`{setting.default}`"
        else:
            default = "(empty)"
        rows.append(f"| `{setting.env}` | {default} | {setting.help} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text()
    pattern = re.compile(r"(<!-- settings-table[^>]*-->\n).*?(<!-- /settings-table -->)", re.S)
    README.write_text(pattern.sub(lambda m: m.group(1) + table() + "\n" + m.group(2), text))


if __name__ == "__main__":
    main()
