"""Template helpers (cookieconsent_*) for our templates, themes and other extensions."""

from __future__ import annotations

import datetime
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.cookieconsent import catalogue, config, consent


def cookieconsent_allowed(category: str) -> bool:
    """Whether the visitor allows `category` on this request (a category id).

    Required categories are always allowed; exempt ones until the visitor opts out;
    others only after consent. An unknown id is never allowed.
    """
    return consent.current(catalogue.current()).allows(category)


def cookieconsent_choice() -> dict[str, Any]:
    """The visitor's choice: revision, source (`cookie`, `gpc` or `none`), time,
    consent id and, for each category shown to visitors, whether it is allowed."""
    current = catalogue.current()
    return consent.current(current).as_dict(current)


def cookieconsent_banner_needed() -> bool:
    """Whether to ask: there is something to consent to (a category that is neither
    required nor exempt), no valid choice for this revision, and no Global Privacy Control."""
    current = catalogue.current()
    needs_consent = any(not (c.required or c.exempt) for c in current.visible_categories)
    return needs_consent and consent.current(current).source == "none"


def cookieconsent_choice_date() -> str | None:
    """When the visitor made their choice, formatted for the page's language."""
    made_at = consent.current(catalogue.current()).made_at
    if made_at is None:
        return None
    moment = datetime.datetime.fromtimestamp(made_at, tz=datetime.timezone.utc)
    return tk.h.render_datetime(moment, with_hours=True)


def cookieconsent_policy() -> dict[str, Any]:
    """The policy in the page's language: revision, categories and their cookies."""
    return tk.get_action("cookieconsent_policy_show")({"ignore_auth": True}, {})


def cookieconsent_categories() -> list[dict[str, Any]]:
    """The categories a visitor is asked about (with cookies, or required), in order."""
    return [c for c in cookieconsent_policy()["categories"] if c["cookies"] or c["required"]]


def cookieconsent_position() -> str:
    return config.position()


def cookieconsent_text(name: str, default: str) -> str:
    """The portal's text for `name` in the page's language, else `default`."""
    return config.text_override(name, tk.h.lang() or "") or default


def cookieconsent_script_settings() -> dict[str, Any]:
    """What the browser script needs (rendered with |tojson)."""
    current = catalogue.current()
    settings = {
        "cookieName": config.cookie_name(),
        "policyUrl": tk.url_for("cookieconsent.policy"),
        "revision": current.revision,
        "honorGpc": config.honor_gpc(),
        "categories": [c.id for c in current.visible_categories],
        "required": [c.id for c in current.visible_categories if c.required],
        "exempt": [c.id for c in current.visible_categories if c.exempt],
        "cookies": [
            {"name": c.name, "category": c.category, "domain": c.domain, "path": c.path}
            for c in current.cookies
            if not current.category(c.category).required  # type: ignore[union-attr]
        ],
    }
    return settings
