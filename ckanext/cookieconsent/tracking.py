"""The integration with CKAN's own `tracking` plugin (ckanext.tracking, core since 2.11).

That plugin counts page views without a cookie: `tracking.js`, on every page, posts the
page's address to `/_tracking`, and its `after_request` handler (`track_request`) stores it
in `tracking_raw` with an MD5 of the visitor's user agent, IP address, Accept-Language and
Accept-Encoding: a fingerprint sent by JavaScript, in the scope of Art. 5(3) of the
ePrivacy Directive (EDPB Guidelines 2/2023). With both plugins on, in either order:

- the statistics category (the built-in catalogue's audience measurement) declares it, so
  that visitors are asked and the policy page says what it is (`entries_to_declare`);
- `tracking.js` is rendered inert until the visitor allows that category, and started in
  the page, without a reload, when they do (`gated_script_urls`, page.html);
- a hit of a visitor who has not allowed it is never stored (`check_consent_before_storing`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import ckan.plugins as p
from ckan.exceptions import CkanConfigurationException
from flask import g, request

from ckanext.cookieconsent import bundles, visitor
from ckanext.cookieconsent.catalogue import Catalogue
from ckanext.cookieconsent.catalogue.texts import N_  # other languages: the .po files

PLUGIN = "tracking"
# The built-in catalogue's audience measurement: no option, the plugin has one purpose.
CATEGORY = "statistics"
ASSET = "tracking/tracking"
# Not a cookie: the catalogue entry is named after the table where the plugin keeps the
# page views, which is what a visitor's data becomes.
ENTRY = "tracking_raw"

_SERVICE = {"en": N_("Audience measurement"), "fr": "Mesure d'audience"}
_PURPOSE = {
    "en": N_(
        "No cookie: each page you view is sent to the portal, which stores its address "
        "with a fingerprint of your browser (an MD5 hash of its user agent, your IP address "
        "and the languages and encodings it accepts), to count the views of each page, "
        "dataset and resource."
    ),
    "fr": (
        "Aucun cookie\u00a0: chaque page que vous consultez est envoyée au portail, qui "
        "enregistre son adresse avec une empreinte de votre navigateur (un condensat MD5 de "
        "son agent utilisateur, de votre adresse IP et des langues et encodages qu'il "
        "accepte), pour compter les vues de chaque page, jeu de données et ressource."
    ),
}
_DURATION_TEXT = {
    "en": N_("Kept on the portal's server until the portal deletes it"),
    "fr": "Conservée sur le serveur du portail jusqu'à ce que le portail la supprime",
}


def loaded() -> bool:
    """Whether CKAN's tracking plugin is enabled on this portal."""
    return p.plugin_loaded(PLUGIN)


# --- The catalogue -----------------------------------------------------------------------


def entries_to_declare(declared: Catalogue) -> list[dict[str, Any]]:
    """The tracking plugin's catalogue entry, in the statistics category, unless the
    portal's catalogue declares it (a hook of `catalogue.load`, as for Google Analytics).

    A category that holds no entry is never shown, and the script would wait for a consent
    nobody could give; the entry is also what asks again visitors who chose before the
    plugin was enabled (it changes the revision).
    """
    category = declared.category(CATEGORY)
    if category is None or category.required:
        raise CkanConfigurationException(
            f"CKAN's tracking plugin waits for the category {CATEGORY!r}, which the cookie "
            "catalogue must keep as an optional category (the built-in catalogue's audience "
            "measurement): do not make it required."
        )
    existing = next((c for c in declared.cookies if c.name == ENTRY), None)
    if existing is not None:
        if existing.category != CATEGORY:
            raise CkanConfigurationException(
                f"The cookie catalogue declares {ENTRY!r} (CKAN's tracking plugin) in "
                f"category {existing.category!r}, but its script waits for {CATEGORY!r}: "
                f"declare it in {CATEGORY!r}."
            )
        return []
    return [
        {
            "name": ENTRY,
            "category": CATEGORY,
            "provider": "CKAN (tracking)",
            "service": _SERVICE,
            "location": "both",
            "party": "first",
            "purpose": _PURPOSE,
            # Nothing lives in the browser; the rows stay until the portal deletes them
            # (CKAN's `tracking update` summarises them and keeps them).
            "duration": "session",
            "duration_text": _DURATION_TEXT,
        }
    ]


# --- The browser script ------------------------------------------------------------------


def gated_script_urls() -> list[str]:
    """The URLs of `tracking.js` to render inert (gated on the statistics category) on
    this page; none when the plugin is off or the visitor allows the category.

    Called from page.html's `scripts` block before its `super()`: whichever of the two
    plugins is listed first, this runs before the tracking plugin's own
    `{% asset 'tracking/tracking' %}`, which then finds the bundle already included and
    adds nothing (CKAN's `include_asset` includes a bundle once per page).
    """
    if not loaded() or visitor.allowed(CATEGORY):
        return []
    urls = bundles.urls(ASSET)
    # CKAN's record of the page's bundles, which bundles.include keeps too.
    if not hasattr(g, "_webassets"):
        g._webassets = {"style": [], "script": [], "included": set()}
    g._webassets["included"].add(ASSET)
    return urls


# --- The server ----------------------------------------------------------------------------


def check_consent_before_storing(app: Any) -> None:
    """Make the tracking plugin's `after_request` handler store a hit only when the
    visitor allows the statistics category.

    Called from IMiddleware.make_error_log_middleware, which CKAN runs for every plugin
    after all of their `make_middleware`: the tracking plugin's handler is registered by
    then, whatever the order of `ckan.plugins`. Its handler is replaced in place by one that
    asks first, with the same request context: a refused hit gets the same response as an
    allowed one (CKAN's own), and nothing is written to `tracking_raw`. Nothing else in
    CKAN answers /_tracking, so no other path stores it.
    """
    if not loaded():
        return
    # Imported by name: an optional plugin, present only when it is enabled.
    track_request = importlib.import_module("ckanext.tracking.middleware").track_request

    funcs = getattr(app, "after_request_funcs", None)
    if funcs is None:  # another plugin's make_middleware returned a plain WSGI wrapper
        raise CkanConfigurationException(
            "CKAN's tracking plugin would store page views without asking: a plugin's "
            f"IMiddleware.make_middleware replaced the Flask app by {type(app).__name__}, "
            "so ckanext-cookieconsent cannot reach the tracking plugin's handler. Wrap the "
            "Flask app's `wsgi_app` in that plugin instead, and return the app."
        )
    handlers: list[Callable[..., Any]] = funcs.get(None, [])
    for index, handler in enumerate(handlers):
        if handler is track_request:
            handlers[index] = _asking_first(track_request)


def _asking_first(store: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(store)
    def store_if_allowed(response: Any) -> Any:
        if _is_hit() and not visitor.allowed(CATEGORY):
            return response
        return store(response)

    return store_if_allowed


def _is_hit() -> bool:
    """Whether this request is one `track_request` stores (its own test)."""
    return request.environ.get("PATH_INFO") == "/_tracking" and request.method == "POST"
