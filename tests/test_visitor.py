"""`visitor.allowed`, the public answer for other extensions' Python code: the choice of
the current request's visitor, from their signed cookie or Global Privacy Control, and
False outside a request. With the example catalogue (statistics exempt, media to ask)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
import flask
import pytest
from helpers import EXAMPLE_MARKS, PREFERENCES

from ckanext.cookieconsent import catalogue, consent, visitor

pytestmark = EXAMPLE_MARKS


def _stored(granted: list[str]) -> str:
    """A valid preferences cookie for the installed catalogue granting `granted`."""
    choice = consent.new_choice(catalogue.current(), granted, None)
    return consent.serialise(choice, consent.signing_key(tk.config.get("SECRET_KEY")))


def _allowed(app: Any, categories: list[str], **headers: str) -> dict[str, bool]:
    with app.flask_app.test_request_context("/about", headers=headers):
        return {category: visitor.allowed(category) for category in categories}


def test_outside_a_request_nothing_is_allowed() -> None:
    assert not flask.has_request_context()
    assert catalogue.current().category("necessary") is not None  # the catalogue is there
    assert visitor.allowed("necessary") is False
    assert visitor.allowed("statistics") is False


def test_before_any_choice_required_and_exempt_categories_are_allowed(app: Any) -> None:
    assert _allowed(app, ["necessary", "statistics", "media"]) == {
        "necessary": True,
        "statistics": True,
        "media": False,
    }


def test_a_stored_choice_is_followed(app: Any) -> None:
    cookie = f"{PREFERENCES}={_stored(['media'])}"
    assert _allowed(app, ["necessary", "statistics", "media", "unknown"], Cookie=cookie) == {
        "necessary": True,
        "statistics": False,  # exempt, but the visitor's choice left it out
        "media": True,
        "unknown": False,
    }


def test_a_forged_cookie_is_no_choice(app: Any) -> None:
    value = _stored(["media"])
    forged = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert _allowed(app, ["media"], Cookie=f"{PREFERENCES}={forged}") == {"media": False}


def test_global_privacy_control_refuses_the_exempt_category(app: Any) -> None:
    assert _allowed(app, ["necessary", "statistics", "media"], **{"Sec-GPC": "1"}) == {
        "necessary": True,
        "statistics": False,
        "media": False,
    }


def test_a_stored_choice_outweighs_global_privacy_control(app: Any) -> None:
    cookie = f"{PREFERENCES}={_stored(['media'])}"
    assert _allowed(app, ["media"], Cookie=cookie, **{"Sec-GPC": "1"}) == {"media": True}


@pytest.mark.ckan_config("ckanext.cookieconsent.honor_gpc", "false")
def test_global_privacy_control_is_ignored_when_the_portal_says_so(app: Any) -> None:
    assert _allowed(app, ["statistics"], **{"Sec-GPC": "1"}) == {"statistics": True}
