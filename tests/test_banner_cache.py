"""The banner is rendered once per revision and language (rendering.py): what is cached
is never another visitor's, another language's or another revision's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import DEMO_CATALOGUE, EXAMPLE, PLUGIN_MARKS, choose, set_cookies

from ckanext.cookieconsent import catalogue, config

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.ckan_config("WTF_CSRF_ENABLED", True),
]

THEME = Path(__file__).parent / "banner_theme" / "templates"


def _banner(body: str) -> str:
    found = re.search(r'<section id="cookieconsent-banner".*?</section>', body, re.S)
    assert found, "no banner on the page"
    return found.group(0)


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found.group(1)


def _page_token(body: str) -> str:
    found = re.search(r'<meta name="_csrf_token" content="([^"]+)"', body)
    assert found, "no CSRF token in the page's head"
    return found.group(1)


def _visit(client: Any, path: str) -> tuple[str, str]:
    """The page's body and its banner."""
    body = client.get(path).body
    return body, _banner(body)


def test_each_visitor_gets_their_own_csrf_token_and_return_path(app: Any) -> None:
    first, second = app.test_client(), app.test_client()
    body_1, banner_1 = _visit(first, "/about")
    body_2, banner_2 = _visit(second, "/user/login?came_from=%2Fabout%3Fx%3D%22y%22")
    body_3, banner_3 = _visit(first, "/user/login")
    # Each banner carries the token of its own session, as the page's head does.
    assert _field(banner_1, "_csrf_token") == _page_token(body_1)
    assert _field(banner_2, "_csrf_token") == _page_token(body_2)
    assert _field(banner_3, "_csrf_token") == _page_token(body_3)
    assert _field(banner_1, "_csrf_token") != _field(banner_2, "_csrf_token")
    # And the path of its own page, escaped (a query string with quotes stays inert).
    assert _field(banner_1, "came_from") == "/about"
    assert _field(banner_2, "came_from").startswith("/user/login?came_from=")
    assert '"y"' not in banner_2
    assert _field(banner_3, "came_from") == "/user/login"
    # The tokens work: each visitor's own choice is accepted.
    for client, banner in ((first, banner_3), (second, banner_2)):
        response = choose(client, "accept_all", _csrf_token=_field(banner, "_csrf_token"))
        assert response.status_code == 303
        assert "cookies_preferences" in set_cookies(response)


def test_each_language_gets_its_own_banner(app: Any) -> None:
    client = app.test_client()
    english = _visit(client, "/about")[1]
    french = _visit(client, "/fr/about")[1]
    english_again = _visit(client, "/about")[1]
    assert "Accept all" in english and "Tout accepter" not in english
    assert "Tout accepter" in french and "Accept all" not in french
    assert 'href="/fr/cookies"' in french
    assert english_again.replace(_field(english_again, "_csrf_token"), "") == english.replace(
        _field(english, "_csrf_token"), ""
    )


def test_a_new_revision_gets_a_fresh_banner(app: Any) -> None:
    """The example catalogue has statistics exempt (on unless turned off); the demo's,
    installed as a new revision in the same process, asks about it like any other."""
    client = app.test_client()
    before = catalogue.current()
    exempt = "(on unless you turn it off)"
    assert exempt in _visit(client, "/about")[1]
    demo = catalogue.load(DEMO_CATALOGUE, config.builtin_catalogue_values(), None)
    assert demo.revision != before.revision
    catalogue.install(demo)
    try:
        assert exempt not in _visit(client, "/about")[1]
    finally:
        catalogue.install(before)
    assert exempt in _visit(client, "/about")[1]  # and back: the first revision's banner


@pytest.mark.ckan_config("ckanext.cookieconsent.banner_title.en", "Portal-set title")
def test_a_text_set_by_the_portal_is_not_hidden_by_a_cached_banner(app: Any) -> None:
    assert "Portal-set title" in _visit(app.test_client(), "/about")[1]


@pytest.mark.ckan_config("extra_template_paths", str(THEME))
def test_a_theme_banner_without_slots_is_rendered_for_each_visitor(app: Any) -> None:
    first, second = app.test_client(), app.test_client()
    body_1, banner_1 = _visit(first, "/about")
    body_2, banner_2 = _visit(second, "/user/login")
    assert "Theme banner" in banner_1 and "Theme banner" in banner_2
    assert _field(banner_1, "_csrf_token") == _page_token(body_1)
    assert _field(banner_2, "_csrf_token") == _page_token(body_2)
    assert _field(banner_1, "came_from") == "/about"
    assert _field(banner_2, "came_from") == "/user/login"
