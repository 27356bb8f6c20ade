"""The visitor behind the current request: their choice, their Global Privacy Control signal.

Public API for other extensions' Python code: :func:`allowed` says whether the visitor of the
current request allows a category (``False`` outside a request). Templates have the helper
``h.cookieconsent_allowed``, which answers the same.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from flask import g, has_request_context, request

from ckanext.cookieconsent import catalogue, config, consent, records


def choice() -> consent.Choice:
    """The choice in force for this request, parsed once per request (cached on flask.g).

    The stored choice if valid (made under another revision: carried over, with what
    changed for the visitor pending); otherwise the default, which is "refuse all optional"
    when the browser sends Global Privacy Control (and the portal honours it).
    """
    portal = catalogue.current()
    cached: consent.Choice | None = g.get("cookieconsent_choice")
    if cached is not None and cached.revision == portal.revision:
        return cached
    found = _stored_under(portal) or consent.default_choice(portal, gpc=gpc_signal())
    g.cookieconsent_choice = found
    return found


def choice_under(policy: catalogue.Policy) -> consent.Choice:
    """The visitor's choice as it stands under `policy` (another revision's, during a
    rolling update); the choice in force when `policy` is the catalogue's."""
    portal = catalogue.current()
    if policy.revision == portal.revision:
        return choice()
    return _stored_under(policy) or consent.default_choice(portal, gpc=gpc_signal())


def _stored_under(now: catalogue.Catalogue | catalogue.Policy) -> consent.Choice | None:
    """The request's preferences cookie as a choice under `now`, if valid."""
    return consent.parse(
        request_cookie(),
        now,
        consent.signing_key(tk.config.get("SECRET_KEY")),
        config.cookie_max_age(),
        records.policy_of,
    )


def allowed(category: str) -> bool:
    """Whether the visitor of the current request allows `category` (a category id).

    Public API. Required categories are always allowed; exempt ones until the visitor
    opts out (or sends Global Privacy Control); others only after consent. An unknown id
    is never allowed, and neither is anything outside a request (a CLI command, a
    background job): there is no visitor to ask.
    """
    if not has_request_context():
        return False
    return choice().allows(category)


def request_cookie() -> str | None:
    """The preferences cookie as the request carries it (unchecked)."""
    return request.cookies.get(config.cookie_name())


def gpc_signal() -> bool:
    """Whether the request carries Global Privacy Control and the portal honours it."""
    return config.honor_gpc() and request.headers.get("Sec-GPC", "").strip() == "1"
