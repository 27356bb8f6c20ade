"""The wheel a fresh clone builds holds every file the plugin needs at run time, and
metadata ready to publish."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fresh_tree import copy_tree

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ckanext" / "cookieconsent"
RUNTIME_SUFFIXES = {".py", ".html", ".js", ".css", ".yml", ".yaml", ".pot", ".po", ".mo", ".svg"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[zipfile.ZipFile, str]:
    """The wheel built from a fresh copy of the project (offline: this environment's
    setuptools, which the build-system table asks for), and the build's log."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = copy_tree(tmp / "source")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-index",
         "--no-build-isolation", "--wheel-dir", str(tmp / "dist"), str(source)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("ckanext_cookieconsent-*.whl")
    return zipfile.ZipFile(wheel), result.stdout + result.stderr


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode("utf-8")


def test_wheel_contains_every_runtime_file(built: tuple[zipfile.ZipFile, str]) -> None:
    wheel, _ = built
    shipped = set(wheel.namelist())
    needed = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*")
        if path.suffix in RUNTIME_SUFFIXES and "__pycache__" not in path.parts
    }
    assert needed, "no runtime files found: the test would prove nothing"
    assert sorted(needed - shipped) == []


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("templates", "ckanext/cookieconsent/templates/cookieconsent/policy.html"),
        ("assets", "ckanext/cookieconsent/assets/webassets.yml"),
        ("French catalogue", "ckanext/cookieconsent/i18n/fr/LC_MESSAGES/ckanext-cookieconsent.mo"),
        ("English catalogue", "ckanext/cookieconsent/i18n/en/LC_MESSAGES/ckanext-cookieconsent.mo"),
        ("config declaration", "ckanext/cookieconsent/config_declaration.yaml"),
        ("built-in catalogue", "ckanext/cookieconsent/builtin_catalogue.yaml"),
        ("migration settings", "ckanext/cookieconsent/migration/cookieconsent/alembic.ini"),
        ("migration script", "ckanext/cookieconsent/migration/cookieconsent/script.py.mako"),
        ("migration versions", "ckanext/cookieconsent/migration/cookieconsent/versions/"),
        ("licence", ".dist-info/licenses/LICENSE"),
    ],
)
def test_wheel_ships(built: tuple[zipfile.ZipFile, str], kind: str, pattern: str) -> None:
    wheel, _ = built
    assert any(pattern in name for name in wheel.namelist()), f"no {kind} ({pattern}) in the wheel"


def test_wheel_leaves_the_shared_ckanext_namespace_alone(
    built: tuple[zipfile.ZipFile, str],
) -> None:
    # Installing ckanext/__init__.py would turn every extension's namespace into our package.
    wheel, _ = built
    assert "ckanext/__init__.py" not in wheel.namelist()


def test_wheel_declares_the_plugin_and_the_check_command(
    built: tuple[zipfile.ZipFile, str],
) -> None:
    wheel, _ = built
    entry_points = _dist_info(wheel, "entry_points.txt")
    assert "cookieconsent = ckanext.cookieconsent.plugin:CookieConsentPlugin" in entry_points
    assert "cookieconsent-check = ckanext.cookieconsent.cli:standalone_check" in entry_points


def test_metadata_is_ready_to_publish(built: tuple[zipfile.ZipFile, str]) -> None:
    wheel, log = built
    metadata = email.message_from_string(_dist_info(wheel, "METADATA"))
    assert metadata["License-Expression"] == "AGPL-3.0-or-later"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = metadata.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")], "deprecated with SPDX"
    assert "Framework :: Flask" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    urls = metadata.get_all("Project-URL") or []
    assert {url.split(",")[0] for url in urls} >= {"Homepage", "Source", "Issues"}
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "## Install into an existing CKAN" in metadata.get_payload()
    # setuptools prints its deprecations (licence table, licence classifiers) in the log.
    assert "deprecated" not in log.lower(), [
        line for line in log.splitlines() if "deprecated" in line.lower()
    ]
