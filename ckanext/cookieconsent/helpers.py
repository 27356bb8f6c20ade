"""Template helpers (cookieconsent_*) for our templates, themes and other extensions."""

from __future__ import annotations

import datetime
import re
from typing import Any

import ckan.plugins.toolkit as tk
from markupsafe import Markup, escape

from ckanext.cookieconsent import catalogue, config, consent

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_TYPE_ATTRIBUTE = re.compile(r"""\stype\s*=\s*(["'])([^"']*)\1""", re.IGNORECASE)
_SRC_ATTRIBUTE = re.compile(r"\ssrc\s*=", re.IGNORECASE)


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


def cookieconsent_offers_choice() -> bool:
    """Whether visitors have anything to choose: a category shown to them that is not
    strictly necessary (exempt ones included: they can be turned off). A stock portal,
    with the built-in catalogue alone, sets only strictly necessary cookies: no choice."""
    return bool(catalogue.current().optional_category_ids)


def cookieconsent_gpc() -> bool:
    """Whether the request carries Global Privacy Control (and the portal honours it)."""
    return consent.gpc_signal()


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


def cookieconsent_category_title(category: str) -> str:
    """The title of a category in the page's language (the id if unknown)."""
    found = catalogue.current().category(category)
    return catalogue.translate(found.title, tk.h.lang() or "") if found else category


def cookieconsent_unique_id(prefix: str) -> str:
    """An id unique within the page, for labelling repeated snippets."""
    from flask import g

    g.cookieconsent_ids = g.get("cookieconsent_ids", 0) + 1
    return f"{prefix}-{g.cookieconsent_ids}"


def cookieconsent_gate_scripts(html: str, category: str) -> Markup:
    """Make the <script> tags of a trusted HTML fragment (another extension's snippet)
    wait for `category`: inert now, started by our script once allowed."""
    if cookieconsent_allowed(category):
        return Markup(html)

    def inert(tag: re.Match[str]) -> str:
        attributes = tag.group(1)
        declared = _TYPE_ATTRIBUTE.search(attributes)
        original_type = declared.group(2) if declared else "text/javascript"
        attributes = _SRC_ATTRIBUTE.sub(
            " data-cookieconsent-src=", _TYPE_ATTRIBUTE.sub("", attributes)
        )
        return (
            f'<script type="text/plain" data-cookieconsent-category="{escape(category)}"'
            f' data-cookieconsent-type="{escape(original_type)}"{attributes}>'
        )

    return Markup(_SCRIPT_TAG.sub(inert, str(html)))


def cookieconsent_googleanalytics_category() -> str | None:
    """The category ckanext-googleanalytics' tag waits for, or None if not gated."""
    return config.googleanalytics_category() if config.gate_googleanalytics() else None


def cookieconsent_position() -> str:
    return config.position()


def cookieconsent_text(name: str, default: str) -> str:
    """The portal's text for `name` in the page's language, else `default`."""
    return config.text_override(name, tk.h.lang() or "") or default


def cookieconsent_script_settings() -> dict[str, Any]:
    """What the browser script needs (rendered with |tojson)."""
    current = catalogue.current()
    choice = consent.current(current)
    settings = {
        "cookieName": config.cookie_name(),
        # The value the server accepted as this visitor's choice: the script trusts the
        # cookie only while it still holds it (see storedChoice() in cookieconsent.js).
        "stored": {
            "value": consent.request_cookie(),
            "granted": sorted(choice.granted),
            "madeAt": choice.made_at,
            "consentId": choice.consent_id,
        }
        if choice.is_stored
        else None,
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
