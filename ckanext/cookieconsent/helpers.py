"""Template helpers (cookieconsent_*) for our templates, themes and other extensions."""

from __future__ import annotations

import datetime
import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask_babel
from babel import Locale
from babel.numbers import format_decimal, parse_pattern
from flask import g, request
from markupsafe import Markup, escape

from ckanext.cookieconsent import (
    bundles,
    catalogue,
    config,
    googleanalytics,
    matomo,
    rendering,
    tracking,
    views_gate,
    visitor,
)

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_TYPE_ATTRIBUTE = re.compile(r"""\stype\s*=\s*(["'])([^"']*)\1""", re.IGNORECASE)
_SRC_ATTRIBUTE = re.compile(r"\ssrc\s*=", re.IGNORECASE)


def cookieconsent_allowed(category: str) -> bool:
    """Whether the visitor allows `category` on this request (a category id).

    Required categories are always allowed; exempt ones until the visitor opts out;
    others only after consent. An unknown id is never allowed.
    """
    return visitor.allowed(category)


def cookieconsent_choice() -> dict[str, Any]:
    """The visitor's choice: revision, source (`cookie`, `gpc` or `none`), time,
    consent id and, for each category shown to visitors, whether it is allowed."""
    return visitor.choice().as_dict(catalogue.current())


def cookieconsent_banner_needed() -> bool:
    """Whether to ask: there is something to consent to (a category that is neither
    required nor exempt), and either no valid choice and no Global Privacy Control, or a
    choice made under another revision that left something new to ask (its `pending`)."""
    choice = visitor.choice()
    return catalogue.current().asks_for_consent and (
        choice.source == "none" or bool(choice.pending)
    )


def cookieconsent_shows_banner() -> bool:
    """Whether this page shows the banner: it is needed, and this is not the policy page
    (whose own form is the choice). Decided once per request."""
    shows: bool | None = g.get("cookieconsent_shows_banner")
    if shows is None:
        shows = g.cookieconsent_shows_banner = (
            cookieconsent_banner_needed() and request.endpoint != "cookieconsent.policy"
        )
    return shows


def cookieconsent_banner() -> Markup:
    """The consent banner for this request (cookieconsent/snippets/banner.html, rendered
    once per revision and language, with this visitor's CSRF field and return path)."""
    return rendering.banner()


def cookieconsent_revision() -> str:
    """The revision of the policy in force (which a choice form answers)."""
    return catalogue.current().revision


def cookieconsent_offers_choice() -> bool:
    """Whether visitors have anything to choose: a category shown to them that is not
    strictly necessary (exempt ones included: they can be turned off). A stock portal,
    with the built-in catalogue alone, sets only strictly necessary cookies: no choice."""
    return bool(catalogue.current().optional_category_ids)


def cookieconsent_gpc() -> bool:
    """Whether the request carries Global Privacy Control (and the portal honours it)."""
    return visitor.gpc_signal()


def cookieconsent_choice_date() -> str | None:
    """When the visitor made their choice, as CKAN writes dates in the page's language
    (Babel's "long" date and time, in `ckan.display_timezone`): "29 novembre 2026,
    10:05:00 TU", "29. November 2026, 10:05:00 UTC". Not `with_hours`: CKAN's pattern
    for it is English ("MMMM d, YYYY"), "le novembre 29, 2026" in French."""
    made_at = visitor.choice().made_at
    if made_at is None:
        return None
    moment = datetime.datetime.fromtimestamp(made_at, tz=datetime.timezone.utc)
    return tk.h.render_datetime(moment, with_seconds=True)


def _locale() -> Locale:
    """The request's locale, as CKAN's own Babel formatting (flask-babel) uses it."""
    return flask_babel.get_locale() or Locale.parse(tk.h.lang() or "en")


def cookieconsent_number(number: float) -> str:
    """A count in the page's language: "12 345" in French, "12.345" in German."""
    return format_decimal(number, locale=_locale())


def cookieconsent_percent(share: float, decimals: int = 1) -> str:
    """A share (0-1) as a percentage in the page's language, with `decimals` digits
    after the separator: "54,5 %" in French, "54.5%" in English, "%54,5" in Turkish."""
    locale = _locale()
    pattern = parse_pattern(locale.percent_formats[None])
    pattern.frac_prec = (decimals, decimals)
    return pattern.apply(share, locale)


def cookieconsent_policy() -> dict[str, Any]:
    """The policy in the page's language: revision, categories and their cookies."""
    return tk.get_action("cookieconsent_policy_show")({"ignore_auth": True}, {})


def cookieconsent_categories() -> list[dict[str, Any]]:
    """The categories a visitor is asked about (with cookies, or required), in order."""
    visible = {c.id for c in catalogue.current().visible_categories}
    return [c for c in cookieconsent_policy()["categories"] if c["id"] in visible]


def cookieconsent_category_title(category: str) -> str:
    """The title of a category in the page's language (the id if unknown)."""
    found = catalogue.current().category(category)
    return catalogue.translate(found.title, tk.h.lang() or "") if found else category


def cookieconsent_unique_id(prefix: str) -> str:
    """An id unique within the page, for labelling repeated snippets."""
    g.cookieconsent_ids = g.get("cookieconsent_ids", 0) + 1
    return f"{prefix}-{g.cookieconsent_ids}"


def cookieconsent_gate_scripts(html: str, category: str) -> Markup:
    """Make the <script> tags of a trusted HTML fragment (another extension's snippet)
    wait for `category`: inert now, started by our script once allowed."""
    if cookieconsent_allowed(category):
        return Markup(html)
    bundles.include("cookieconsent/cookieconsent-gate-js")  # what starts them once allowed

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


def cookieconsent_tracking_script_urls() -> list[str]:
    """The URLs of CKAN's tracking plugin's script to render gated on the statistics
    category (that plugin's own tag then left out of this page); none when it is off or
    the visitor allows the category. Call it before the `scripts` block's super()."""
    return tracking.gated_script_urls()


def cookieconsent_consent_mode() -> dict[str, Any] | None:
    """Google Consent Mode v2 for this page (ckanext-googleanalytics' tag gated, the
    option not empty): the signals' categories and their state now; else None."""
    if not config.gate_googleanalytics() or not config.consent_mode():
        return None
    return {"categories": config.consent_mode(), "now": googleanalytics.consent_mode_signals()}


def cookieconsent_matomo() -> dict[str, Any] | None:
    """Matomo's tag for this page (ckanext.cookieconsent.matomo_url and matomo_site_id
    set): its category, script URL and the settings of its commands; else None."""
    return matomo.tag()


def cookieconsent_position() -> str:
    return config.position()


def cookieconsent_text(name: str, default: str) -> str:
    """The portal's text for `name` in the page's language, else `default`."""
    return config.text_override(name, tk.h.lang() or "") or default


def cookieconsent_script_settings() -> dict[str, Any]:
    """What the browser script needs (rendered with |tojson)."""
    choice = visitor.choice()
    return {
        **rendering.script_settings(),
        # The value the server accepted as this visitor's choice: the script trusts the
        # cookie only while it still holds it (see storedChoice() in cookieconsent.js).
        "stored": {
            "value": visitor.request_cookie(),
            "granted": sorted(choice.granted),
            "madeAt": choice.made_at,
            "consentId": choice.consent_id,
        }
        if choice.is_stored
        else None,
    }


def cookieconsent_policy_url() -> str:
    """The policy page's URL, in the page's language (the footer's "Cookies" link)."""
    return rendering.policy_url()


# --- Our webassets bundles (bundles.py): resolved once per process in production. ---------


def cookieconsent_asset(name: str) -> str:
    """Include our webassets bundle `name` ("cookieconsent/cookieconsent-css") once in the
    page, as `{% asset %}` does (CKAN's `render_assets` renders its tags), with its URLs
    resolved once per process in production. Renders nothing itself."""
    bundles.include(name)
    return ""


def cookieconsent_asset_urls(*names: str) -> list[str]:
    """The URLs of these bundles, for the script to load them when first needed."""
    return bundles.urls(*names)


# --- CKAN's resource views of other sites' content (views_gate.py) ------------------------

# The placeholder's size for each view type (the content's own takes the width it has).
_VIEW_SIZES = {"webpage_view": (1200, 675), "video_view": (640, 360), "audio_view": (640, 160)}


@tk.chained_helper
def rendered_resource_view(
    next_helper: Any,
    resource_view: dict[str, Any],
    resource: dict[str, Any],
    package: dict[str, Any],
    embed: bool = False,
) -> Markup:
    """CKAN's `h.rendered_resource_view`, chained (whatever the order of `ckan.plugins`):
    a `webpage_view`, `video_view` or `audio_view` of another site's content waits behind
    the embed placeholder naming its host until the visitor allows the category
    (cookieconsent/snippets/resource_view.html); a URL no browser should load is not
    rendered. Everything else, and a view the visitor allows, is CKAN's own rendering."""
    view_type = str(resource_view.get("view_type"))
    if embed or not views_gate.gates(view_type):
        return next_helper(resource_view, resource, package, embed)
    page = views_gate.origin_of(request.host_url, None)
    decision = views_gate.decide(
        resource_view,
        resource,
        views_gate.portal_origins(request.host_url),
        page,
        views_gate.trusted_hosts(),
    )
    category = config.resource_view_category()
    if decision.verdict == "direct" or (decision.verdict == "gated" and visitor.allowed(category)):
        return next_helper(resource_view, resource, package, embed)
    width, height = _VIEW_SIZES[view_type]
    frame = _is_view_frame() and not g.get("cookieconsent_view_settings")
    if frame and decision.verdict == "gated":
        g.cookieconsent_view_settings = True  # the frame's settings and core, once
    extra = {
        "verdict": decision.verdict,
        "category": category,
        "src": decision.url,
        "title": resource_view.get("title") or tk.h.resource_display_name(resource),
        "provider": ", ".join(decision.hosts),
        "width": width,
        "height": height,
        "frame": frame,
        "content": next_helper(resource_view, resource, package, embed)
        if decision.verdict == "gated"
        else "",
    }
    return Markup(tk.render("cookieconsent/snippets/resource_view.html", extra))


def _is_view_frame() -> bool:
    """Whether this request is a view's own page (CKAN's `<type>_resource.view`), which
    extends base.html: no page.html, so no script settings of its own."""
    from flask import current_app

    function = current_app.view_functions.get(request.endpoint or "")
    return getattr(function, "__module__", "") == "ckan.views.resource" and (
        getattr(function, "__name__", "") == "view"
    )
