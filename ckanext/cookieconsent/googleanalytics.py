"""The integration with ckanext-googleanalytics: its tag waits for consent, in any plugin order.

Two things happen at start-up when that extension is enabled too:

- Our template directory is placed just before ckanext-googleanalytics' one, whatever the
  order of `ckan.plugins`: our overrides of its tag snippet and of its `<noscript>` frame
  then win the template lookup. The admin's `extra_template_paths` still come first.
- With `ckanext.cookieconsent.gate_googleanalytics` on, Google Analytics' cookies are
  declared in `ckanext.cookieconsent.googleanalytics_category`, unless the portal's
  catalogue declares them: a category that holds no cookie is never shown to visitors,
  and the tag would wait for a consent nobody can give.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import MutableMapping
from typing import Any

import ckan.plugins as p
from ckan.exceptions import CkanConfigurationException

from ckanext.cookieconsent import config, visitor
from ckanext.cookieconsent.catalogue import Catalogue
from ckanext.cookieconsent.catalogue.texts import N_  # other languages: the .po files

PLUGIN = "googleanalytics"
CATEGORY_OPTION = "ckanext.cookieconsent.googleanalytics_category"

# Google's documentation, "Google Analytics cookie usage on websites"
# (developers.google.com/analytics/devguides/collection/ga4/cookie-usage and, for
# Universal Analytics' analytics.js, .../analyticsjs/cookie-usage).
_PROVIDER = {"en": "Google (Google Analytics)", "fr": "Google (Google Analytics)"}
_SERVICE = {"en": N_("Audience measurement"), "fr": "Mesure d'audience"}
_PURPOSES: dict[str, dict[str, str]] = {
    "_ga": {
        "en": N_("Tell visitors apart to count them; holds a random identifier of your browser."),
        "fr": (
            "Distinguer les visiteurs pour les compter\u202f; contient un identifiant aléatoire "
            "de votre navigateur."
        ),
    },
    "_ga_": {
        "en": N_(
            "Keep the state of your current visit: when it started, how many pages were seen."
        ),
        "fr": (
            "Conserver l'état de la visite en cours\u00a0: quand elle a commencé, combien de pages "
            "ont été vues."
        ),
    },
    "_gid": {
        "en": N_("Tell visitors apart over one day; holds a random identifier of your browser."),
        "fr": (
            "Distinguer les visiteurs sur une journée\u202f; contient un identifiant aléatoire de "
            "votre navigateur."
        ),
    },
    "_gat": {
        "en": N_("Limit how many requests are sent to Google Analytics."),
        "fr": "Limiter le nombre de requêtes envoyées à Google Analytics.",
    },
}


def loaded() -> bool:
    """Whether ckanext-googleanalytics is enabled on this portal."""
    return p.plugin_loaded(PLUGIN)


def gated() -> bool:
    """Whether its tag waits for consent: the extension is enabled and gating is on."""
    return loaded() and config.gate_googleanalytics()


# --- Templates ---------------------------------------------------------------------------


_OURS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def _googleanalytics_templates() -> str | None:
    spec = importlib.util.find_spec("ckanext.googleanalytics")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(next(iter(spec.submodule_search_locations)), "templates")


def put_our_templates_first(config_: MutableMapping[str, Any]) -> None:
    """Place our template directory just before ckanext-googleanalytics' one.

    Called in IConfigurable.configure, which CKAN runs after it has computed
    `computed_template_paths` (environment.update_config) and before the Flask app
    builds its template loader from it. Plugins listed earlier in `ckan.plugins` win
    the lookup; with `googleanalytics` first, its own tag would load before any choice.
    """
    paths: list[str] = list(config_.get("computed_template_paths") or [])
    ours, theirs = os.path.realpath(_OURS), _googleanalytics_templates()
    real = [os.path.realpath(path) for path in paths]
    if theirs is None or ours not in real or os.path.realpath(theirs) not in real:
        return
    mine, ga = real.index(ours), real.index(os.path.realpath(theirs))
    if mine < ga:
        return
    extra = [path for path in (config_.get("extra_template_paths") or "").split(",") if path]
    if ga < len(extra):
        raise CkanConfigurationException(
            f"extra_template_paths lists ckanext-googleanalytics' templates ({theirs}): its "
            "Google tag would load before the visitor's choice. Remove that directory from "
            f"extra_template_paths, or list ckanext-cookieconsent's ({ours}) just before it."
        )
    paths.insert(ga, paths.pop(mine))
    config_["computed_template_paths"] = paths


# --- Cookies -------------------------------------------------------------------------------


def _cookie_names(tracking_id: str, mode: str) -> list[tuple[str, str, str]]:
    """(name, purpose key, duration) of the cookies Google's snippet sets in `mode`."""
    if mode == "ga":  # Universal Analytics' analytics.js
        return [
            ("_ga", "_ga", "2 years"),
            ("_gid", "_gid", "24 hours"),
            ("_gat", "_gat", "1 minute"),
        ]
    # gtag.js and Google Tag Manager (whose GA4 tags use gtag.js): _ga_<container-id>,
    # the measurement id without its "G-". A Tag Manager container's measurement ids
    # are not in the portal's configuration: a pattern then.
    container = tracking_id.removeprefix("G-") if tracking_id.startswith("G-") else "*"
    return [("_ga", "_ga", "2 years"), (f"_ga_{container}", "_ga_", "2 years")]


def _entry(name: str, purpose: str, duration: str, category: str) -> dict[str, Any]:
    return {
        "name": name,
        "category": category,
        "provider": _PROVIDER,
        "service": _SERVICE,
        "location": "front",
        # Set by Google's script on the portal's own domain.
        "party": "first",
        "purpose": _PURPOSES[purpose],
        "duration": duration,
    }


def _check_consent_mode(declared: Catalogue) -> None:
    try:
        mapping = config.consent_mode()
    except ValueError as error:
        raise CkanConfigurationException(str(error)) from error
    optional = {c.id for c in declared.categories if not c.required}
    for signal, category in mapping.items():
        if category not in optional:
            raise CkanConfigurationException(
                f"ckanext.cookieconsent.consent_mode: {signal}={category}: {category!r} is not "
                "an optional category of the cookie catalogue: one of "
                f"{', '.join(sorted(optional))}."
            )


def consent_mode_signals() -> dict[str, str]:
    """Google Consent Mode's signals for this request: `granted` or `denied` each, as the
    visitor's choice allows their categories (all four, unlisted ones denied)."""
    mapping = config.consent_mode()
    return {
        signal: "granted" if signal in mapping and visitor.allowed(mapping[signal]) else "denied"
        for signal in config.CONSENT_MODE_SIGNALS
    }


def cookies_to_declare(declared: Catalogue) -> list[dict[str, Any]]:
    """Google Analytics' cookies the catalogue lacks, as catalogue entries.

    A hook of `catalogue.load`, given the catalogue as declared (built-in and portal
    file). A cookie the portal declares, by name or by a pattern matching it, is left as
    the portal declares it. Stops start-up when visitors could not be asked for the
    tag's category, or would be told its cookies belong to another one.
    """
    category_id = config.googleanalytics_category()
    declared.optional_category(category_id, CATEGORY_OPTION, "Google Analytics' tag waits")
    _check_consent_mode(declared)
    tracking_mode, tracking_id = _tracking()
    entries: list[dict[str, Any]] = []
    for name, purpose, duration in _cookie_names(tracking_id, tracking_mode):
        entry = next((c for c in declared.cookies if c.matches(name)), None)
        if entry is None:
            entries.append(_entry(name, purpose, duration, category_id))
        elif entry.category != category_id:
            raise CkanConfigurationException(
                f"The cookie catalogue declares Google Analytics' cookie {name!r} (as "
                f"{entry.name!r}) in category {entry.category!r}, but {CATEGORY_OPTION} = "
                f"{category_id!r}: the tag sets it once {category_id!r} is allowed. Declare "
                f"it in {category_id!r}, or set {CATEGORY_OPTION} = {entry.category}."
            )
    return entries


def _tracking() -> tuple[str, str]:
    """ckanext-googleanalytics' tracking mode and id, as it reads them."""
    # Imported by name: an optional extension, present only when it is enabled.
    ga_config: Any = importlib.import_module("ckanext.googleanalytics.config")
    return ga_config.tracking_mode(), ga_config.tracking_id()


# --- Server-side events ---------------------------------------------------------------


def skip_server_event() -> bool:
    """Whether ckanext-googleanalytics must drop the event of this request (an API call, a
    download): unless gating is off, the visitor behind it must allow the category, as for
    the browser tag. A request authenticated by an API token comes from a program; its
    events follow the same rule unless `googleanalytics_api_token_events` says to send them.
    """
    if not config.gate_googleanalytics():
        return False
    if config.googleanalytics_api_token_events() and _authenticated_by_api_token():
        return False
    return not visitor.allowed(config.googleanalytics_category())


def _authenticated_by_api_token() -> bool:
    from flask import g

    # Set by CKAN's load_user_from_request when the Authorization header carried a token.
    return bool(g.get("login_via_auth_header"))
