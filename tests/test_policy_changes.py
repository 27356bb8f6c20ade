"""A change of policy asks a visitor again only about what changed for them.

With the real CKAN and PostgreSQL: a choice is made under the demo catalogue (its revision
stored with the record), then another revision of the catalogue is put in force in the
same process, as a restart with an edited catalogue (or another server of a rolling
update) would, and the same preferences cookie is sent again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from helpers import DEMO_CATALOGUE, PLUGIN_MARKS, PREFERENCES, choose, set_cookies

from ckanext.cookieconsent import catalogue, config, records

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO_CATALOGUE),
    pytest.mark.usefixtures("consent_tables"),
]

DEMO_TEXT = Path(DEMO_CATALOGUE).read_text()

NEW_STATISTICS_COOKIE = """
  - name: demo_stats_session
    category: statistics
    provider: Demo statistics (hosted by the portal)
    service: Audience measurement
    location: front
    party: first
    purpose: Group the pages of one visit.
    duration: 30 minutes
"""

NEW_CATEGORY = """
  - name: demo_map_tiles
    category: maps
    provider: Demo maps
    service: Maps of datasets
    location: front
    party: third
    purpose: Remember the map's position.
    duration: 1 day
"""

MAPS = """
  - id: maps
    order: 30
    title: Maps
    description: Maps drawn by another site.
"""


def _catalogue(tmp_path: Path, *, cookies: str = "", categories: str = "") -> catalogue.Catalogue:
    text = DEMO_TEXT.replace("\ncookies:\n", f"\n{categories}\ncookies:\n") + cookies
    path = tmp_path / "catalogue.yaml"
    path.write_text(text)
    return catalogue.load(str(path), config.builtin_catalogue_values(), None)


@pytest.fixture
def put_in_force() -> Iterator[Any]:
    """Install another catalogue (a new revision) for the rest of the test."""
    before = catalogue.current()
    yield catalogue.install
    catalogue.install(before)


def _banner(client: Any) -> str | None:
    body = client.get("/about").body
    found = re.search(r'<section id="cookieconsent-banner".*?</section>', body, re.S)
    return found.group(0) if found else None


def _purposes(banner: str) -> str:
    found = re.search(r'class="cookieconsent-banner__text">\s*(.*?)<', banner, re.S)
    assert found
    return found.group(1)


def _allowed(client: Any) -> dict[str, bool]:
    body = client.get("/about").body
    found = re.search(r'id="cookieconsent-settings">(.*?)</script>', body, re.S)
    assert found
    settings = json.loads(found.group(1))
    stored = settings["stored"]
    granted = set(stored["granted"]) if stored else set()
    return {c: c in granted for c in settings["categories"] if c not in settings["required"]}


def test_accepted_then_new_cookie_asks_again_about_that_category_alone(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    client = app.test_client()
    assert choose(client, "accept_all").status_code == 303
    assert _banner(client) is None
    put_in_force(_catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE))
    banner = _banner(client)
    assert banner is not None, "new cookies in an allowed category are asked about"
    assert "Audience measurement" in _purposes(banner)
    assert "Third-party content" not in _purposes(banner)  # unchanged: not asked again
    # Until answered, the changed category waits; the unchanged one stays allowed.
    assert _allowed(client) == {"statistics": False, "media": True}
    # Answering the banner answers what it asked: the other answer stands.
    response = choose(client, "refuse_all", origin="banner")
    assert response.status_code == 303
    assert _banner(client) is None
    assert _allowed(client) == {"statistics": False, "media": True}


def test_refused_then_changed_is_not_asked_again(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    client = app.test_client()
    choose(client, "refuse_all")
    put_in_force(_catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE))
    assert _banner(client) is None, "a refusal stands whatever changes in what was refused"
    assert _allowed(client) == {"statistics": False, "media": False}


def test_a_new_category_is_asked_about_alone(app: Any, tmp_path: Path, put_in_force: Any) -> None:
    client = app.test_client()
    choose(client, "save", granted=["media"])  # statistics refused, media allowed
    put_in_force(_catalogue(tmp_path, cookies=NEW_CATEGORY, categories=MAPS))
    banner = _banner(client)
    assert banner is not None
    assert "Maps" in _purposes(banner)
    assert "Audience measurement" not in _purposes(banner)
    assert "Third-party content" not in _purposes(banner)
    assert _allowed(client) == {"statistics": False, "media": True, "maps": False}
    # "Accept all" in that banner accepts what it asked about; the refusal stands.
    response = choose(client, "accept_all", origin="banner")
    assert PREFERENCES in set_cookies(response)
    assert _banner(client) is None
    assert _allowed(client) == {"statistics": False, "media": True, "maps": True}


def test_a_choice_under_a_newer_revision_holds_on_an_older_server(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    """A rolling update: a server still on the old revision reads a choice made on an
    updated one. Nothing in the old terms is new to the visitor: no banner."""
    old = catalogue.current()
    client = app.test_client()
    put_in_force(_catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE))
    choose(client, "accept_all")
    put_in_force(old)
    assert _banner(client) is None
    assert _allowed(client) == {"statistics": True, "media": True}


def test_a_banner_answered_by_a_server_on_another_revision_keeps_its_revision(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    """A rolling update again: the banner of the updated server (B) is answered through
    the one not yet updated (A). The answer is to what B asked, under B's revision, so
    that B does not ask again on every page it serves."""
    old = catalogue.current()
    new = _catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE)
    client = app.test_client()
    choose(client, "accept_all")
    put_in_force(new)
    banner = _banner(client)
    assert banner is not None
    assert f'name="revision" value="{new.revision}"' in banner
    put_in_force(old)
    response = choose(client, "accept_all", origin="banner", revision=new.revision)
    assert set_cookies(response)[PREFERENCES].value.split(":")[1] == new.revision
    assert _banner(client) is None
    put_in_force(new)
    assert _banner(client) is None
    assert _allowed(client) == {"statistics": True, "media": True}


@pytest.mark.parametrize("revision", ["", "not stored", "x" * 40, "../etc"])
def test_a_form_naming_an_unknown_revision_answers_the_policy_in_force(
    app: Any, revision: str
) -> None:
    client = app.test_client()
    response = choose(client, "accept_all", revision=revision)
    assert response.status_code == 303
    value = set_cookies(response)[PREFERENCES].value
    assert value.split(":")[1] == catalogue.current().revision


def test_a_choice_under_an_unknown_revision_asks_again(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    """A revision not stored (its records table emptied, say): nothing to compare with,
    the visitor is asked again, as for no choice."""
    client = app.test_client()
    choose(client, "accept_all")
    model.Session.execute(sa.text("DELETE FROM cookieconsent_record"))
    model.Session.execute(sa.text("DELETE FROM cookieconsent_revision"))
    model.Session.commit()
    records.forget_revisions()
    put_in_force(_catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE))
    assert _banner(client) is not None
    assert _allowed(client) == {"statistics": False, "media": False}


@pytest.mark.ckan_config("ckanext.cookieconsent.records", False)
def test_choices_carry_over_with_records_switched_off(
    app: Any, tmp_path: Path, put_in_force: Any
) -> None:
    client = app.test_client()
    choose(client, "refuse_all")
    put_in_force(_catalogue(tmp_path, cookies=NEW_STATISTICS_COOKIE))
    assert _banner(client) is None
