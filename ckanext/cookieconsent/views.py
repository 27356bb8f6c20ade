"""The extension's pages: the cookie policy."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from flask import Blueprint

cookieconsent = Blueprint("cookieconsent", __name__)


@cookieconsent.route("/cookies")
def policy() -> str:
    """The cookie policy: every category and cookie, and the visitor's choice."""
    return tk.render("cookieconsent/policy.html", {"policy": tk.h.cookieconsent_policy()})
