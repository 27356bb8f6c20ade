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


def _ckan_versions(path: str) -> set[str]:
    return set(re.findall(r"\b2\.1[0-9]\.[0-9]+\b", (ROOT / path).read_text()))


def test_readme_makefile_and_ci_name_the_same_ckan_releases() -> None:
    readme, makefile, ci = (_ckan_versions(p) for p in ("README.md", "Makefile", ".ci/run"))
    assert len(readme) >= 2, "the README names no CKAN releases: the test would prove nothing"
    assert makefile <= readme, f"Makefile names {sorted(makefile - readme)}, README does not"
    assert ci == readme, f"CI tests {sorted(ci)}, the README says {sorted(readme)}"
