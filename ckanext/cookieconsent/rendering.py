"""The banner, rendered once per catalogue revision and language, then filled in per visitor.

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

import ckan.plugins.toolkit as tk
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
    key = _key()
    template = _rendered.get(key)
    if template is None:
        template = _render_with_slots()
        if len(_rendered) >= _MAX_ENTRIES:
            _rendered.clear()
        _rendered[key] = template
    if not template:
        return Markup(tk.render_snippet(SNIPPET, _per_request_values()))
    values = _per_request_values()
    return Markup(
        template.replace(_CSRF_SLOT, str(values["csrf_field"])).replace(
            _CAME_FROM_SLOT, str(escape(values["came_from"]))
        )
    )


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
    return {"csrf_field": tk.h.csrf_input(), "came_from": tk.h.url_for(tk.h.current_url())}


def forget() -> None:
    """Drop every cached render: the configuration (templates, texts) may have changed."""
    _rendered.clear()
