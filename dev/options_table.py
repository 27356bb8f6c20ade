"""The README's table of configuration options, from the config declaration: `make docs`.

Rewrites README.md between `<!-- options:start -->` and `<!-- options:end -->` with one
row per option of ckanext/cookieconsent/config_declaration.yaml: its key, its default as
an ini file spells it, its description. tests/test_docs.py checks the README holds
exactly this table.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DECLARATION = ROOT / "ckanext" / "cookieconsent" / "config_declaration.yaml"
README = ROOT / "README.md"
START, END = "<!-- options:start -->", "<!-- options:end -->"


def _default(option: dict[str, object]) -> str:
    value = option.get("default", "")
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`" if value != "" else "(empty)"


def table(declaration: Path = DECLARATION) -> str:
    """The Markdown table, without the markers."""
    rows = ["| option | default | description |", "|---|---|---|"]
    for group in yaml.safe_load(declaration.read_text())["groups"]:
        for option in group["options"]:
            description = " ".join(option.get("description", "").split()).replace("|", "\\|")
            rows.append(f"| `{option['key']}` | {_default(option)} | {description} |")
    return "\n".join(rows) + "\n"


def documented(readme: Path = README) -> str:
    """The table in the README, between the markers."""
    return readme.read_text().split(START, 1)[1].split(END, 1)[0].lstrip("\n")


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    README.write_text(f"{head}{START}\n{table()}{END}{rest.split(END, 1)[1]}")
    print(f"{README.name}: options table written from {DECLARATION.name}.")


if __name__ == "__main__":
    main()
