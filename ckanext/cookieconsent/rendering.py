"""The banner, rendered once per catalogue revision and language, then filled in per visitor;
and the other parts of a page that are the same for every visitor (the script's settings,
the policy page's URL), computed once per revision and language.

Rendering it costs about a millisecond (policy texts, translations, URLs, a snippet per
category): on every first-visit page, that is most of the extension's page cost. All of
it is the same for every visitor who sees it in one language under one revision, except
two parts, which are left as slots in the cached copy and filled in for each request:

- the CSRF field (per session), and
- the return path (per page).

Per process: each process renders its own copy, and a process serves one revision (the
catalogue is loaded at start-up). The key also holds the language, the position and the
default choice the switches show, so that nothing rendered for one case is shown in
another; what else it depends on (templates, texts set in the ini file) is fixed until
CKAN configures the plugin again, which empties the cache (`forget`).
"""

from __future__ import annotations

import secrets
from typing import Any

import ckan.plugins.toolkit as tk
from flask import request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ckanext.cookieconsent import catalogue, config, visitor

SNIPPET = "cookieconsent/snippets/banner.html"
# Random per process, alphanumeric (no escaping changes them): no catalogue text or URL
# can contain them by accident, nor on purpose.
_CSRF_SLOT = f"cookieconsentcsrf{secrets.token_hex(8)}"
_CAME_FROM_SLOT = f"cookieconsentcamefrom{secrets.token_hex(8)}"
# Languages x revisions in force: a few dozen entries. The bound is a safety net only.
_MAX_ENTRIES = 512

# A theme's own banner.html that does not use the slots: rendered for every request.
_NO_SLOTS = ""

_rendered: dict[tuple[object, ...], str] = {}


def banner() -> Markup:
    """The banner for this request: the cached render for its revision and language,
    with this visitor's CSRF field and return path."""
    template = _cached_template()
    if not template:
        return Markup(tk.render_snippet(SNIPPET, _per_request_values()))
    values = _per_request_values()
    return Markup(
        template.replace(_CSRF_SLOT, str(values["csrf_field"])).replace(
            _CAME_FROM_SLOT, str(escape(values["came_from"]))
        )
    )


# What stands for the two slots in the banner kept as proof (proof.py): fixed, so that the
# texts' hash is the same in every process.
CSRF_MARKER = "[csrf-field]"
CAME_FROM_MARKER = "[return-path]"


def banner_with_markers() -> str:
    """The banner as the cache holds it for this request's key, its two per-request slots
    replaced by CSRF_MARKER and CAME_FROM_MARKER (the proof of what visitors were shown).
    A theme's banner without the slots is rendered with the markers as its values."""
    template = _cached_template()
    if not template:
        markers = {"csrf_field": Markup(CSRF_MARKER), "came_from": CAME_FROM_MARKER}
        return str(tk.render_snippet(SNIPPET, markers))
    return template.replace(_CSRF_SLOT, CSRF_MARKER).replace(_CAME_FROM_SLOT, CAME_FROM_MARKER)


def _cached_template() -> str:
    """The banner with its slots for this request's key, rendered once per process ("" for
    a theme's banner without the slots)."""
    key = _key()
    template = _rendered.get(key)
    if template is None:
        template = _render_with_slots()
        if len(_rendered) >= _MAX_ENTRIES:
            _rendered.clear()
        _rendered[key] = template
    return template


def _key() -> tuple[object, ...]:
    """Everything the banner's render depends on but the two slots."""
    choice = visitor.choice()
    lang = tk.h.lang() or ""
    return (
        catalogue.current().revision,
        lang,
        config.position(),
        choice.source,
        choice.granted,
        choice.pending,
    )


def _render_with_slots() -> str:
    slots = {"csrf_field": Markup(_CSRF_SLOT), "came_from": _CAME_FROM_SLOT}
    html = str(tk.render_snippet(SNIPPET, slots))
    return html if _CSRF_SLOT in html and _CAME_FROM_SLOT in html else _NO_SLOTS


def _per_request_values() -> dict[str, object]:
    return {"csrf_field": _csrf_field(), "came_from": tk.h.url_for(tk.h.current_url())}


def _csrf_field() -> Markup:
    """CKAN's snippets/csrf_input.html, without rendering a template for it: the same
    field name and the request's token (made once per request, the page's head has it)."""
    name = tk.g.get("csrf_field_name") or tk.config.get("WTF_CSRF_FIELD_NAME")
    return Markup('<input type="hidden" name="{}" value="{}"/>').format(name, generate_csrf())


# What the browser script is told that is the same for every visitor of one language
# under one revision (the visitor's own choice is added per request: helpers.py).
_settings: dict[tuple[object, ...], dict[str, Any]] = {}
_policy_urls: dict[tuple[object, ...], str] = {}


def _language_key() -> tuple[object, ...]:
    # The URL of a page depends on the language (its /fr prefix) and where CKAN is mounted.
    return (tk.h.lang(), request.script_root)


def policy_url() -> str:
    key = _language_key()
    url = _policy_urls.get(key)
    if url is None:
        url = _policy_urls[key] = tk.url_for("cookieconsent.policy")
    return url


def script_settings() -> dict[str, Any]:
    current = catalogue.current()
    key = (current.revision, *_language_key())
    found = _settings.get(key)
    if found is None:
        found = _settings[key] = {
            "cookieName": config.cookie_name(),
            "policyUrl": policy_url(),
            # For the date the script writes after a choice: the one the server writes in.
            "timeZone": str(tk.h.get_display_timezone()),
            "revision": current.revision,
            "honorGpc": config.honor_gpc(),
            "categories": [c.id for c in current.visible_categories],
            "required": sorted(current.required_category_ids),
            "exempt": [c.id for c in current.visible_categories if c.exempt],
            "cookies": catalogue.script_cookies(current),
        }
    return found


def forget() -> None:
    """Drop every cached render: the configuration (templates, texts) may have changed."""
    _rendered.clear()
    _settings.clear()
    _policy_urls.clear()
