"""README.md stays true: its options table matches the config declaration."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DECLARATION = ROOT / "ckanext" / "cookieconsent" / "config_declaration.yaml"


def _declared_options() -> dict[str, str]:
    declaration = yaml.safe_load(DECLARATION.read_text())
    return {
        option["key"]: str(option.get("default", ""))
        for group in declaration["groups"]
        for option in group["options"]
    }


def _documented_options() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- options:start -->")[1].split("<!-- options:end -->")[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", table, flags=re.MULTILINE)
    return {key: default.strip().strip("`").replace("(empty)", "") for key, default in rows}


def test_readme_documents_every_declared_option_with_its_default() -> None:
    assert _documented_options() == _declared_options()
