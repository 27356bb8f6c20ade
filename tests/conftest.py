"""Test session set-up: a real PostgreSQL for CKAN, and the extension's fixtures
(the browser ones in browser_fixtures.py).

CKAN's own pytest plugin (bundled with CKAN) reads test.ini and builds the app at
session start. Before it does, this file points CKAN at a database: the server named
by CKAN_SQLALCHEMY_URL if set, otherwise an embedded PostgreSQL started in a temporary
directory and stopped (and deleted) when the session ends, whatever the outcome.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

from embedded_pg import EmbeddedPostgres  # noqa: E402

# The browser fixtures (live_server, browser, new_page, page, tls_proxy) and the two
# servers behind nginx (cluster, in cluster_fixtures.py). pytest imports
# the plugin by name: this folder is on sys.path (rootdir-relative "prepend" import mode,
# no __init__.py), as it is for the tests' `from helpers import ...`.
pytest_plugins = ["browser_fixtures", "cluster_fixtures"]

_embedded: EmbeddedPostgres | None = None


def _interrupt(signum: int, frame: Any) -> None:
    # pytest turns KeyboardInterrupt into an orderly shutdown, which runs
    # pytest_unconfigure and so stops the server.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    global _embedded
    if os.environ.get("CKAN_SQLALCHEMY_URL") or _embedded is not None:
        return
    pgdata = Path(tempfile.mkdtemp(prefix="cookieconsent-pg-")) / "data"
    _embedded = EmbeddedPostgres(pgdata, delete_on_stop=True)
    os.environ["CKAN_SQLALCHEMY_URL"] = _embedded.database_url("ckan_test")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _embedded
    if _embedded is None:
        return
    _embedded.stop()
    os.rmdir(_embedded.pgdata.parent)
    os.environ.pop("CKAN_SQLALCHEMY_URL", None)
    _embedded = None


@pytest.fixture(scope="session", autouse=True)
def _database(reset_db: Any, migrate_db_for: Any) -> None:
    """CKAN's tables and ours exist before any test runs (`ckan db init`, then
    `ckan db upgrade -p cookieconsent`). `clean_db` later empties them, keeping them."""
    import ckan.plugins as plugins

    reset_db()
    plugins.load("cookieconsent")  # CKAN finds a plugin's migrations through the plugin
    try:
        migrate_db_for("cookieconsent")
    finally:
        plugins.unload("cookieconsent")


@pytest.fixture
def consent_tables(clean_db: Any, migrate_db_for: Any) -> None:
    """A clean database with the extension's tables (`ckan db upgrade -p cookieconsent`)."""
    migrate_db_for("cookieconsent")


@pytest.fixture
def register_plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make a plugin class loadable by name, as CKAN 2.12's `provide_plugin` does.

    CKAN 2.11 has no such fixture; both versions find plugins through
    `ckan.plugins.core._get_service`, so the extra names are served there.
    """
    import ckan.plugins.core as plugins_core

    extra: dict[str, type] = {}
    find_entry_point = plugins_core._get_service

    def get_service(name: str) -> Any:
        return extra[name]() if name in extra else find_entry_point(name)

    monkeypatch.setattr(plugins_core, "_get_service", get_service)
    return extra.__setitem__
