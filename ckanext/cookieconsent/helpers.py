"""Template helpers (cookieconsent_*) for our templates, themes and other extensions."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk


def cookieconsent_policy() -> dict[str, Any]:
    """The policy in the page's language: revision, categories and their cookies."""
    return tk.get_action("cookieconsent_policy_show")({"ignore_auth": True}, {})
