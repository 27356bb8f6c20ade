"""Typed accessors for the extension's options and the CKAN options it follows.

Defaults and types live in config_declaration.yaml (and CKAN's own declaration).
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def catalogue_file() -> str:
    return tk.config.get("ckanext.cookieconsent.catalogue") or ""


def cookie_name() -> str:
    return tk.config.get("ckanext.cookieconsent.cookie_name")


def cookie_max_age() -> int:
    return tk.config.get("ckanext.cookieconsent.cookie_max_age")


def honor_gpc() -> bool:
    return tk.config.get("ckanext.cookieconsent.honor_gpc")


def position() -> str:
    return tk.config.get("ckanext.cookieconsent.position")


def gate_googleanalytics() -> bool:
    return tk.config.get("ckanext.cookieconsent.gate_googleanalytics")


def googleanalytics_category() -> str:
    return tk.config.get("ckanext.cookieconsent.googleanalytics_category")


def text_override(name: str, lang: str) -> str | None:
    """A text the portal set for one language, e.g. ckanext.cookieconsent.intro.fr."""
    # A dynamic option: CKAN's declaration cannot list every language, so say "None"
    # explicitly rather than have CKAN warn that the key is undeclared.
    return tk.config.get(f"ckanext.cookieconsent.{name}.{lang}", None) or None


def records_enabled() -> bool:
    return tk.config.get("ckanext.cookieconsent.records")


def retention_days() -> int:
    return tk.config.get("ckanext.cookieconsent.retention_days")


def builtin_catalogue_values() -> dict[str, str]:
    """What the built-in catalogue's placeholders stand for on this portal."""
    session_permanent = tk.config.get("SESSION_PERMANENT")
    session_lifetime = tk.config.get("PERMANENT_SESSION_LIFETIME")
    return {
        "session_cookie": tk.config.get("SESSION_COOKIE_NAME"),
        "session_duration": str(session_lifetime) if session_permanent else "session",
        "remember_cookie": tk.config.get("REMEMBER_COOKIE_NAME"),
        "preferences_cookie": cookie_name(),
        "preferences_max_age": str(cookie_max_age()),
    }
