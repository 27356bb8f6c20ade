"""The extension's pages: the cookie policy, the endpoint that stores a choice, and the
sysadmins' dashboard of consent records."""

from __future__ import annotations

import itertools
import json
import logging
import re
from typing import Any, Literal, get_args
from urllib.parse import unquote, urlsplit

import ckan.plugins.toolkit as tk
from flask import Blueprint, jsonify, redirect, request
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from ckanext.cookieconsent import (
    catalogue,
    charts,
    config,
    consent,
    proof,
    records,
    signals,
    visitor,
)
from ckanext.cookieconsent.logic import schema

log = logging.getLogger(__name__)

cookieconsent = Blueprint("cookieconsent", __name__)

# The form's `origin` field: where the form was (its wire names are public form API).
# Mapped once, in _method(), to how the choice came about (consent.Method).
ORIGINS: tuple[consent.Method, ...] = ("banner", "policy", "embed")
# The form's `action` field. accept_all, refuse_all: every optional category; save:
# exactly the `granted` ones; allow: one more `category` on top of the current choice
# (an embed's "Always allow").
Action = Literal["accept_all", "refuse_all", "save", "allow"]
ACTIONS: tuple[Action, ...] = get_args(Action)
_ACTION_NAMES: dict[str, Action] = {a: a for a in ACTIONS}
_ORIGIN_NAMES: dict[str, consent.Method] = {o: o for o in ORIGINS}
# Characters browsers drop or reinterpret in a URL: tabs, newlines, backslashes.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")


@cookieconsent.route("/cookies")
def policy() -> str:
    """The cookie policy: every category and cookie, and the visitor's choice."""
    return tk.render(
        "cookieconsent/policy.html",
        {
            "policy": tk.h.cookieconsent_policy(),
            "came_from": _safe_return_path(request.args.get("came_from")),
            "proof_retention": proof.retention_text(tk.h.lang() or ""),
        },
    )


@cookieconsent.route("/cookies/consent", methods=["POST"])
def consent_post() -> Response:
    """Store the visitor's choice, delete the cookies they refuse, and go back.

    A plain form POST (no JavaScript) is answered with a redirect to the page the visitor
    was on; a request that asks for JSON (the enhanced form) gets the choice as JSON.
    """
    refusal = _refuse_forged_request()
    if refusal is not None:
        return refusal
    action = _ACTION_NAMES.get(request.form.get("action", ""))
    if action is None:
        return _error(
            400,
            tk._("Unknown choice. Expected one of: {actions}.").format(actions=", ".join(ACTIONS)),
        )

    portal = catalogue.current()
    answered = _policy_shown(portal)
    previous = visitor.choice_under(answered)
    # The banner asking again after a change of policy asks only about what is new for
    # the visitor (previous.pending): their other answers stand, whichever they press.
    asked_again = bool(previous.pending) and request.form.get("origin") == "banner"
    if action == "accept_all":
        granted: list[str] = (
            [*previous.granted, *previous.pending]
            if asked_again
            else list(answered.optional_category_ids)
        )
    elif action == "refuse_all":
        granted = list(previous.granted) if asked_again else []
    elif action == "allow":
        category = request.form.get("category", "")
        if category not in answered.optional_category_ids:
            return _error(400, tk._("Unknown category: {category}.").format(category=category))
        granted = [*previous.granted, category]
    else:
        granted = request.form.getlist("granted")
    choice = consent.new_choice(answered, granted, previous.consent_id)

    if _wants_json():
        response = jsonify(
            {"choice": choice.as_dict(portal), "message": tk._("Your choice has been saved.")}
        )
    else:
        back = _safe_return_path(request.form.get("came_from"))
        response = redirect(back or tk.url_for("cookieconsent.policy"), code=303)
    _remember(response, portal, choice, _method(action, previous), action)
    _delete_refused_cookies(response, portal, choice)
    return response


@cookieconsent.route("/.well-known/gpc.json")
def gpc_support() -> Response:
    """The Global Privacy Control support resource (GPC specification, section 3.5): says
    that this portal honours the signal. Absent (404) when the portal does not."""
    if not config.honor_gpc():
        return tk.abort(404)  # type: ignore[return-value]
    updated = catalogue.current().updated
    document: dict[str, Any] = {"gpc": True}
    if updated is not None:
        document["lastUpdate"] = updated.isoformat()
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@cookieconsent.route("/cookies/receipt")
def receipt() -> Response:
    """The visitor's receipt of their consent (proof.receipt): the last record of the
    consent id in their preferences cookie, signed, as a JSON download. 404 before any
    choice, or when no record of it is kept."""
    request.environ["__no_cache__"] = True  # one visitor's: never in a shared cache
    choice = visitor.choice()
    if not choice.is_stored or choice.consent_id is None:
        return _error(404, tk._("You have not made a choice yet: there is no receipt to download."))
    found = proof.receipt(choice.consent_id)
    if found is None:
        return _error(
            404, tk._("No record of your choice is kept: there is no receipt to download.")
        )
    response = Response(
        json.dumps(found, ensure_ascii=False, indent=2) + "\n",
        mimetype="application/json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="cookie-consent-receipt-{choice.consent_id}.json"'
            )
        },
    )
    response.cache_control.no_store = True
    return response


def _policy_shown(portal: catalogue.Catalogue) -> catalogue.Policy:
    """The policy the form answers: the one in force, or, during a rolling update, the
    revision the page was rendered under by another server (the form's `revision`),
    if it is stored. Answering it keeps the visitor from being asked again by that
    server. Anything else (absent, unknown, malformed) is the policy in force."""
    shown = request.form.get("revision", "")
    if not shown or shown == portal.revision or not consent.is_revision(shown):
        return portal.policy
    return records.policy_of(shown) or portal.policy


def _method(action: Action, previous: consent.Choice) -> consent.Method:
    """How a choice posted with the form's `origin` and `action` came about: refusing all
    on the policy page after a stored choice is a withdrawal."""
    method = _ORIGIN_NAMES.get(request.form.get("origin", ""), "banner")
    if method == "policy" and action == "refuse_all" and previous.is_stored:
        return "withdrawal"
    return method


@cookieconsent.before_app_request
def _store_revision_once() -> None:
    """The revision in force, stored before its forms are answered (records.py)."""
    records.ensure_revision_stored(catalogue.current())


@cookieconsent.after_app_request
def _remember_gpc_default(response: Response) -> Response:
    """A page seen with Global Privacy Control and no choice yet: the refusal it implies
    holds on every request from the header alone (visitor.choice). It is stored, cookie
    and record, once, and only once the browser shows that it keeps cookies: it sends back
    CKAN's session cookie (set on its first page) or a preferences cookie (expired, of an
    older revision). Then the refusal is remembered, and its consent id, shown on the
    policy page, can be looked up like any other.

    A client that never returns cookies (a crawler sending `Sec-GPC: 1`) gets neither: no
    row per request, no cookie it would drop. Nothing is lost: a refusal needs no proof of
    consent (GDPR art. 7(1) proves consent, not its absence), and the header itself refuses.
    """
    if (
        request.method != "GET"
        or response.mimetype != "text/html"
        or response.status_code != 200
        or request.headers.get("Sec-GPC") is None
        or not _keeps_cookies()
    ):
        return response
    if visitor.choice().source != "gpc":
        return response
    portal = catalogue.current()
    _remember(response, portal, consent.new_choice(portal, [], None), "gpc", "refuse_all")
    return response


def _remember(
    response: Response,
    portal: catalogue.Catalogue,
    choice: consent.Choice,
    method: consent.Method,
    action: Action,
) -> None:
    """Store `choice` in the preferences cookie of `response`, record it (proof of
    consent) and tell subscribers of signals.choice_made. The one way a choice is kept.

    The record never delays the answer beyond `record_timeout_ms` and never fails it:
    records.write logs what went wrong."""
    language = tk.h.lang() or ""
    name, domain = config.cookie_name(), config.cookie_domain()
    secure = request.is_secure or config.public_origin_is_https()
    if domain is not None and name in request.cookies:
        # Shared with the portal's other sites (cookie_domain): a choice stored on this
        # host alone (before the option was set) goes, or the browser would keep two
        # cookies of this name that disagree. The shared one is a cookie of its own.
        response.delete_cookie(name, path="/", secure=secure, samesite="Lax")
    response.set_cookie(
        name,
        consent.serialise(choice, consent.signing_key(tk.config.get("SECRET_KEY"))),
        max_age=config.cookie_max_age(),
        path="/",
        domain=domain,
        samesite="Lax",
        secure=secure,
        httponly=False,  # the browser script reads the choice (cached pages, JS API)
    )
    if config.records_enabled():
        # What the visitor was shown (proof.py): rendered once per process and language.
        shown = proof.texts_shown(portal, language) if choice.revision == portal.revision else None
        records.write(choice, portal, method, language, shown)
    else:
        records.store_revision(portal)  # what carries choices over to another revision
    signals.choice_made.send(
        choice.consent_id, choice=choice, method=method, action=action, language=language
    )


def _keeps_cookies() -> bool:
    """Whether the browser returned a cookie this portal set: CKAN's session or ours."""
    names = (tk.config.get("SESSION_COOKIE_NAME"), config.cookie_name())
    return any(name in request.cookies for name in names)


def _delete_refused_cookies(
    response: Response, portal: catalogue.Catalogue, choice: consent.Choice
) -> None:
    """Expire, in this response, the cookies of refused categories the browser sent,
    HttpOnly ones included (JavaScript could not delete those): on the host (a cookie set
    without Domain lives there only), on the catalogue's domain and on the portal's shared
    `cookie_domain` (where the portal's other sites may have set them)."""
    refused = {c.id for c in portal.categories if not choice.allows(c.id)}
    shared = config.cookie_domain()
    for name in request.cookies:
        entry = portal.entry_for(name, refused)
        if entry is None:
            continue
        domains = {"", *(d.lstrip(".").lower() for d in (entry.domain, shared) if d)}
        for domain in sorted(domains):
            response.delete_cookie(name, path=entry.path or "/", domain=domain or None)


def _refuse_forged_request() -> Response | None:
    """CKAN does not check CSRF on anonymous POSTs (2.12 exempts requests without a
    session, 2.11 extension blueprints): a cross-site form could otherwise accept all
    on a visitor's behalf. We check the origin and the token ourselves."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return _error(403, tk._("Cookie choices can only be made on this site."))
    origin = request.headers.get("Origin")
    if origin and origin not in _own_origins():
        return _error(403, tk._("Cookie choices can only be made on this site."))
    if not tk.config.get("WTF_CSRF_ENABLED"):
        return None
    field = tk.config.get("WTF_CSRF_FIELD_NAME")
    # The two headers CKAN's own scripts and Flask-WTF accept.
    token = (
        request.form.get(field)
        or request.headers.get("X-CSRFToken")
        or request.headers.get("X-CSRF-Token")
    )
    try:
        validate_csrf(token)
    except ValidationError as error:
        log.info("Refused a cookie choice: %s", error)
        return _error(
            400,
            tk._("This form has expired. Please reload the page and make your choice again."),
        )
    return None


def _own_origins() -> set[str]:
    """The origins a choice may come from: the one the request arrived on, and the portal's
    public one. Behind a proxy that terminates TLS and passes neither X-Forwarded-Proto
    nor the port (ckan-docker's nginx), CKAN sees http://host while the browser sends
    Origin: https://host:port; `ckan.site_url` is the truth about the latter."""
    return {request.host_url.rstrip("/"), *filter(None, [config.public_origin()])}


def _safe_return_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None. Refuses other hosts in every
    disguise: `//host`, `https://host`, `javascript:`, backslashes, encoded forms."""
    if not target or len(target) > 2000:
        return None
    for candidate in (target, unquote(target), unquote(unquote(target))):
        if _UNSAFE_IN_PATH.search(candidate) or not candidate.startswith("/"):
            return None
        if candidate.startswith("//"):
            return None
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return None
    return target


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _error(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify({"error": message})
        response.status_code = status
        return response
    return tk.abort(status, message)  # type: ignore[return-value]


# --- The sysadmins' dashboard ----------------------------------------------------------


@cookieconsent.route("/ckan-admin/cookies")
def dashboard() -> str:
    """How visitors answer: records, acceptance per revision, answers per category by day."""
    request.environ["__no_cache__"] = True  # records: never in a shared cache
    period = _period_from(request.args)
    try:
        stats = tk.get_action("cookieconsent_stats")(_user_context(), dict(period))
    except tk.NotAuthorized:
        return tk.abort(403, _not_authorized())  # type: ignore[return-value]
    except tk.ValidationError as error:
        return tk.abort(400, _period_message(error))  # type: ignore[return-value]
    undeclared = tk.get_action("cookieconsent_undeclared_cookie_list")(_user_context(), {})
    return tk.render(
        "cookieconsent/admin/dashboard.html",
        {
            "stats": stats,
            "chart": charts.answers_by_day(stats),
            "period": period,
            "undeclared": undeclared,
        },
    )


@cookieconsent.route("/ckan-admin/cookies/export.csv")
def export() -> Response:
    """The records of a date range as CSV, `Cache-Control: private, no-store`.

    The query runs, and the first record is read, before the response starts: a failure
    then is an ordinary 500. A failure later, once the headers are sent, ends the file
    with a `# export failed` line and aborts the transfer (records.export_csv), so that
    it cannot pass for a complete export.
    """
    period = _period_from(request.args)
    context = _user_context()
    try:
        # Whoever may read the statistics may read the records they count.
        tk.check_access("cookieconsent_stats", context, dict(period))
        bounds = schema.validate(dict(period), schema.period(), context)
    except tk.NotAuthorized:
        return tk.abort(403, _not_authorized())  # type: ignore[return-value]
    except tk.ValidationError as error:
        return tk.abort(400, _period_message(error))  # type: ignore[return-value]
    chunks = records.export_csv(bounds.get("since"), bounds.get("until"))
    first = next(chunks)
    name = f"cookie-consents-{period.get('since', 'start')}-{period.get('until', 'now')}.csv"
    response = Response(
        itertools.chain([first], chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    # CKAN marks responses "public" unless told otherwise; it then adds "private".
    request.environ["__no_cache__"] = True
    response.cache_control.no_store = True
    return response


@cookieconsent.route("/ckan-admin/cookies/record")
def record() -> str:
    """One consent id's records, each next to the texts its visitor was shown (the
    dashboard's look-up form)."""
    request.environ["__no_cache__"] = True
    consent_id = request.args.get("consent_id", "").strip()
    context = _user_context()
    history: dict[str, Any] | None = None
    try:
        history = tk.get_action("cookieconsent_record_show")(context, {"consent_id": consent_id})
    except tk.NotAuthorized:
        return tk.abort(403, _not_authorized())  # type: ignore[return-value]
    except (tk.ValidationError, tk.ObjectNotFound):
        history = None
    return tk.render(
        "cookieconsent/admin/record.html", {"consent_id": consent_id, "history": history}
    )


def _period_from(args: Any) -> dict[str, str]:
    """`since` and `until` from the query string; empty values (the dashboard's form
    left blank) are no bound. The actions' schema checks them."""
    return {k: args[k] for k in ("since", "until") if args.get(k)}


def _period_message(error: tk.ValidationError) -> str:
    """The page's message for a period the schema refused (400)."""
    if schema.is_inverted_period(error):
        return tk._("The first day of the period is after its last day.")
    return tk._("Dates must be given as YYYY-MM-DD.")


def _not_authorized() -> str:
    return tk._("Only sysadmins can see the cookie consent records.")


def _user_context() -> Any:
    user = tk.current_user
    return {"user": user.name if user.is_authenticated else ""}
