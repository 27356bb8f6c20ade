"""Matomo: its tag on every page, through the gate of one category, in one of two modes.

With `ckanext.cookieconsent.matomo_url` and `matomo_site_id` set, page.html renders
cookieconsent/snippets/matomo.html: Matomo's tag (its `_paq` commands, then `matomo.js`)
inert until the visitor allows `matomo_category`, started in place the moment they do.

- `consent` (the default): the category needs consent; nothing of Matomo loads before.
- `exempt`: the CNIL's audience-measurement exemption (délibération 2020-091, art. 5;
  the category must be `exempt: true` in the catalogue, so it is on until the visitor
  objects). The tag then configures Matomo as the exemption requires: the visitor
  cookie lives 13 months (`setVisitorCookieTimeout`; Matomo counts it from its creation
  and never extends it, since Piwik 2.9), campaign parameters are not sent
  (`disableCampaignParameters`, Matomo 5.1), no user id is set. While the visitor has
  made no choice, Matomo counts the visit without cookies and without reading the
  browser's features (`disableCookies`, `disableBrowserFeatureDetection`): nothing is
  stored on their device before they have been told of the measurement and had the
  chance to object. Once they have chosen and kept the category, cookies are used
  (`setCookieConsentGiven`, Matomo's way to turn them back on).

Either way, a refusal made in the page calls Matomo's opt-out (`optUserOut`): Matomo
stops sending, deletes its cookies and remembers the refusal in `mtm_consent_removed`
(for as long as our own cookie keeps the choice). A later page does not load the tag at
all; if the visitor allows the category again, the tag lifts that opt-out
(`forgetUserOptOut`) before tracking.

At start-up the options are checked (a clear message naming the option) and Matomo's
cookies are declared in the catalogue unless the portal's file declares them.
IP anonymisation, data retention and the other server-side conditions of the exemption
are Matomo's own settings: the README says which.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from ckan.exceptions import CkanConfigurationException

from ckanext.cookieconsent import config, visitor
from ckanext.cookieconsent.catalogue import Catalogue
from ckanext.cookieconsent.catalogue.texts import N_  # other languages: the .po files

MODES = ("consent", "exempt")
URL_OPTION = "ckanext.cookieconsent.matomo_url"
SITE_OPTION = "ckanext.cookieconsent.matomo_site_id"
MODE_OPTION = "ckanext.cookieconsent.matomo_mode"
CATEGORY_OPTION = "ckanext.cookieconsent.matomo_category"

# 13 months in seconds (365 + 28 days): Matomo's default, the CNIL's ceiling.
VISITOR_COOKIE_SECONDS = 33955200
OPT_OUT_COOKIE = "mtm_consent_removed"

# Matomo's documentation, "What cookies are created by Matomo?" (matomo.org/faq/general/
# faq_146), and its tracker (js/piwik.js): the cookies its tag sets on the portal's domain.
_SERVICE = {"en": N_("Audience measurement"), "fr": "Mesure d'audience"}
_EXEMPT_SERVICE = {
    "en": N_("Anonymous audience measurement (IP addresses anonymised)"),
    "fr": "Mesure d'audience anonyme (adresses IP anonymisées)",
}
_PURPOSES: dict[str, dict[str, str]] = {
    "id": {
        "en": N_("Tell visits apart to count unique visitors; holds a random identifier."),
        "fr": (
            "Distinguer les visites pour compter les visiteurs uniques ; contient un "
            "identifiant aléatoire."
        ),
    },
    "ses": {
        "en": N_("Group the pages seen during one visit."),
        "fr": "Regrouper les pages vues pendant une même visite.",
    },
    "ref": {
        "en": N_("Remember which site you came from, to count where visits come from."),
        "fr": "Retenir le site d'où vous venez, pour savoir d'où viennent les visites.",
    },
    OPT_OUT_COOKIE: {
        "en": N_("Remember that you refused audience measurement, so that Matomo sends nothing."),
        "fr": "Retenir que vous avez refusé la mesure d'audience, pour que Matomo n'envoie rien.",
    },
}


def configured() -> bool:
    """Whether the portal asks for Matomo (either option set: both are then checked)."""
    return bool(config.matomo_url() or config.matomo_site_id())


# --- The options -----------------------------------------------------------------------


def base_url() -> str:
    """The Matomo server's base URL, ending with "/". CkanConfigurationException naming
    the option unless it is an http(s) URL with a host and no query or fragment."""
    url = config.matomo_url()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise CkanConfigurationException(
            f"{URL_OPTION} = {url!r} is not the base URL of a Matomo server: expected an "
            "http or https URL with a host and no query, such as https://stats.example.org/ "
            "(where matomo.js and matomo.php are)."
        )
    return url if url.endswith("/") else url + "/"


def site_id() -> str:
    """The site id, digits only. CkanConfigurationException naming the option otherwise."""
    value = config.matomo_site_id()
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise CkanConfigurationException(
            f"{SITE_OPTION} = {value!r} is not a Matomo site id: expected a positive integer, "
            "the id Matomo shows for this portal (Administration, Websites, Manage)."
        )
    return str(int(value))


def mode() -> str:
    value = config.matomo_mode()
    if value not in MODES:
        raise CkanConfigurationException(
            f"{MODE_OPTION} = {value!r} is not a Matomo mode: expected `consent` (the tag "
            "waits for consent) or `exempt` (the CNIL's audience-measurement exemption)."
        )
    return value


def check(declared: Catalogue) -> None:
    """Stop start-up, with a message naming the option, on a value that would not work:
    a malformed URL or site id, an unknown mode, a category visitors cannot be asked
    about, or a category whose exemption does not match the mode."""
    base_url()
    site_id()
    current_mode = mode()
    category_id = config.matomo_category()
    category = declared.optional_category(category_id, CATEGORY_OPTION, "Matomo's tag waits")
    if current_mode == "exempt" and not category.exempt:
        raise CkanConfigurationException(
            f"{MODE_OPTION} = exempt, but the catalogue's category {category_id!r} is not "
            f"exempt: Matomo would then wait for a consent. Mark it `exempt: true` in the "
            f"portal's catalogue (ckanext.cookieconsent.catalogue), or set {MODE_OPTION} = "
            "consent."
        )
    if current_mode == "consent" and category.exempt:
        raise CkanConfigurationException(
            f"{MODE_OPTION} = consent, but the catalogue's category {category_id!r} is "
            "exempt, on before any choice: Matomo would run without consent and without "
            f"the exemption's settings. Set {MODE_OPTION} = exempt, or remove `exempt: true` "
            "from the category."
        )


# --- Cookies -------------------------------------------------------------------------------


def _opt_out_hours() -> int:
    """How long Matomo remembers an opt-out: as long as our cookie keeps the choice."""
    return math.ceil(config.cookie_max_age() / 3600)


def _cookies(site: str) -> list[tuple[str, str, Any]]:
    """(name, purpose key, duration) of the cookies Matomo's tag sets for `site`."""
    # Matomo names them _pk_<kind>.<site id>.<hash of the cookie domain>.
    return [
        (f"_pk_id.{site}.*", "id", "13 months"),
        (f"_pk_ses.{site}.*", "ses", "30 minutes"),
        (f"_pk_ref.{site}.*", "ref", "6 months"),
    ]


def _entry(name: str, purpose: str, duration: Any, category: str, host: str) -> dict[str, Any]:
    return {
        "name": name,
        "category": category,
        "provider": f"Matomo ({host})",
        "service": _EXEMPT_SERVICE if mode() == "exempt" else _SERVICE,
        "location": "front",
        # Set by Matomo's script on the portal's own domain, wherever Matomo is hosted.
        "party": "first",
        "purpose": _PURPOSES[purpose],
        "duration": duration,
    }


def cookies_to_declare(declared: Catalogue) -> list[dict[str, Any]]:
    """Matomo's cookies the catalogue lacks, as catalogue entries (a hook of
    `catalogue.load`, given the catalogue as declared). A cookie the portal declares, by
    name or by a pattern covering it, is left as declared; one it declares in another
    category than Matomo's stops start-up. The opt-out cookie, which only keeps a
    refusal, is strictly necessary."""
    check(declared)
    category_id = config.matomo_category()
    host = urlsplit(base_url()).hostname or ""
    required = next(c.id for c in declared.categories if c.required)
    wanted = [
        (name, purpose, duration, category_id) for name, purpose, duration in _cookies(site_id())
    ]
    wanted.append((OPT_OUT_COOKIE, OPT_OUT_COOKIE, _opt_out_hours() * 3600, required))
    entries: list[dict[str, Any]] = []
    for name, purpose, duration, category in wanted:
        entry = next((c for c in declared.cookies if c.matches(name)), None)
        if entry is None:
            entries.append(_entry(name, purpose, duration, category, host))
        elif category == category_id and entry.category != category_id:
            raise CkanConfigurationException(
                f"The cookie catalogue declares Matomo's cookie {name!r} (as {entry.name!r}) "
                f"in category {entry.category!r}, but {CATEGORY_OPTION} = {category_id!r}: "
                f"the tag sets it once {category_id!r} is allowed. Declare it in "
                f"{category_id!r}, or set {CATEGORY_OPTION} = {entry.category}."
            )
    return entries


# --- The tag ---------------------------------------------------------------------------------


def tag() -> dict[str, Any] | None:
    """What cookieconsent/snippets/matomo.html renders for this request, or None without
    Matomo. `settings` go to the tag's script (rendered with |tojson)."""
    if not configured():
        return None
    exempt = mode() == "exempt"
    base = base_url()
    return {
        "category": config.matomo_category(),
        "script": base + "matomo.js",
        "settings": {
            "tracker": base + "matomo.php",
            "siteId": site_id(),
            "category": config.matomo_category(),
            "exempt": exempt,
            "visitorCookieSeconds": VISITOR_COOKIE_SECONDS,
            # Exempt mode, no choice made yet: counted without cookies.
            "cookieless": exempt and not visitor.choice().is_stored,
            "optOutHours": _opt_out_hours(),
        },
    }
