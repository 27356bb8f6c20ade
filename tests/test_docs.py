"""README.md stays true: its options table is the one `make docs` writes from the config
declaration (dev/options_table.py), and it names the CKAN releases CI tests; the demo's
audit report in docs/ is of the demo as it is."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from helpers import DEMO_CATALOGUE, VALUES

from ckanext.cookieconsent import catalogue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

import options_table  # noqa: E402


def test_readme_options_table_is_the_one_made_from_the_declaration() -> None:
    table = options_table.table()
    assert table.count("\n| `ckanext.cookieconsent.") >= 10, "too few rows: it would prove little"
    assert options_table.documented() == table, "README.md is stale: run `make docs`"


def _ckan_versions(path: str) -> set[str]:
    return set(re.findall(r"\b2\.1[0-9]\.[0-9]+\b", (ROOT / path).read_text()))


def test_readme_makefile_and_ci_name_the_same_ckan_releases() -> None:
    readme, makefile, ci = (_ckan_versions(p) for p in ("README.md", "Makefile", ".ci/run"))
    assert len(readme) >= 2, "the README names no CKAN releases: the test would prove nothing"
    assert makefile <= readme, f"Makefile names {sorted(makefile - readme)}, README does not"
    assert ci == readme, f"CI tests {sorted(ci)}, the README says {sorted(readme)}"


def test_the_demo_audit_in_docs_is_of_the_demo_catalogue_as_it_is() -> None:
    """docs/audit-demo.json says "no violation" for the demo portal's current revision: a
    change to the demo's or the built-in catalogue makes it stale (README: how to redo it)."""
    report = json.loads((ROOT / "docs" / "audit-demo.json").read_text())
    assert report["verdict"] == "no violation"
    assert report["findings"] == []
    assert report["passes"] == ["no_choice", "reject_all", "accept_all", "gpc"]
    demo = catalogue.load(DEMO_CATALOGUE, VALUES)
    assert report["revision"] == demo.revision, "docs/audit-demo.json is stale: redo the audit"
