"""The catalogue in force: installed once at start-up (plugin.configure), read by requests."""

from __future__ import annotations

from ckanext.cookieconsent.catalogue.model import Catalogue

_current: Catalogue | None = None


def install(catalogue: Catalogue) -> None:
    """Make `catalogue` the one every request uses (called once at start-up)."""
    global _current
    _current = catalogue


def current() -> Catalogue:
    if _current is None:
        raise RuntimeError("the cookieconsent plugin is not loaded: no catalogue in force")
    return _current
