"""The built-in catalogue is what CKAN really sets: every Set-Cookie seen while a visitor
browses, switches language, submits forms, signs in (with and without "remember me") and
signs out is a catalogue entry, and the lifetimes match."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from ckan.tests import factories
from helpers import set_cookies

from ckanext.cookieconsent import catalogue

PASSWORD = "correct-horse-battery"


def _browse(app: Any, user: dict[str, Any], remember: bool) -> dict[str, Any]:
    """Every cookie CKAN sets during one visitor's visit, by name (last one wins)."""
    client = app.test_client()
    seen: dict[str, Any] = {}

    def visit(method: str, path: str, **kwargs: Any) -> Any:
        response = getattr(client, method)(path, follow_redirects=False, **kwargs)
        seen.update(set_cookies(response))
        return response

    for path in ("/about", "/fr/about", "/en/user/login", "/user/register",
                 "/api/3/action/status_show"):  # fmt: skip
        visit("get", path)
    visit("post", "/user/register", data={"name": "", "email": "not-an-email"})
    form = {"login": user["name"], "password": PASSWORD}
    if remember:
        form["remember"] = "63072000"
    assert visit("post", "/user/login", data=form).status_code == 302
    visit("get", "/user/edit/" + user["name"])
    visit("get", "/user/_logout")
    return seen


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins", "clean_db")
@pytest.mark.parametrize("remember", [False, True])
def test_every_cookie_ckan_sets_is_in_the_builtin_catalogue(app: Any, remember: bool) -> None:
    user = factories.User(password=PASSWORD)
    seen = _browse(app, user, remember)
    current = catalogue.current()
    unlisted = [name for name in seen if not any(c.matches(name) for c in current.cookies)]
    assert unlisted == []
    expected = {"ckan", "remember_token"} if remember else {"ckan"}
    assert set(seen) == expected


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_remember_cookie_lives_as_long_as_the_catalogue_says(app: Any) -> None:
    user = factories.User(password=PASSWORD)
    client = app.test_client()
    response = client.post(
        "/user/login",
        data={"login": user["name"], "password": PASSWORD, "remember": "63072000"},
        follow_redirects=False,
    )
    remember = set_cookies(response)["remember_token"]
    lifetime = parsedate_to_datetime(remember["expires"]).timestamp() - time.time()
    listed = next(c for c in catalogue.current().cookies if c.name == "remember_token")
    assert listed.duration.seconds is not None
    assert abs(lifetime - listed.duration.seconds) < 120
