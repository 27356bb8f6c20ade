"""CKAN's core `tracking` plugin follows the visitor's choice: over HTTP, with the real plugin.

Both plugins on, in both orders, and the real PostgreSQL `tracking_raw` table (created by
CKAN's core migrations, as `ckan db init` does): a POST to /_tracking is stored only for a
visitor who allows the statistics category; the pages render tracking.js gated until then;
the catalogue and the policy page declare it.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from helpers import EXAMPLE, PREFERENCES, choose

from ckanext.cookieconsent import catalogue, consent, tracking

ORDERS = [
    pytest.param(order, marks=pytest.mark.ckan_config("ckan.plugins", order), id=ident)
    for order, ident in [
        ("cookieconsent tracking", "cookieconsent-first"),
        ("tracking cookieconsent", "tracking-first"),
    ]
]
pytestmark = [pytest.mark.usefixtures("with_plugins", "clean_db")]

HIT = {"url": "/about", "type": "page"}
# What tracking.js sends; track_request reads the user agent without a default.
HEADERS = {"User-Agent": "Mozilla/5.0 (test)", "Accept-Language": "fr"}


def tracked_rows() -> int:
    """The rows in CKAN's tracking_raw table (the real one, in PostgreSQL)."""
    import ckan.model as model
    import sqlalchemy as sa

    model.Session.remove()  # the view committed its row in another session
    return model.Session.execute(sa.text("SELECT count(*) FROM tracking_raw")).scalar_one()


@pytest.fixture
def no_rows() -> None:
    import ckan.model as model
    import sqlalchemy as sa

    model.Session.execute(sa.text("DELETE FROM tracking_raw"))
    model.Session.commit()


def _hit(client: Any, **headers: str) -> Any:
    # track_request reads REMOTE_ADDR, which CKAN 2.11's test client does not set.
    return client.post(
        "/_tracking",
        data=HIT,
        headers={**HEADERS, **headers},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def _signed(ckan_config: Any, granted: str) -> str:
    """A preferences cookie signed with the test's SECRET_KEY, as the server writes it."""
    choice = consent.Choice(
        revision=catalogue.current().revision,
        granted=frozenset(granted.split("/")),
        source="cookie",
        made_at=int(time.time()),
        consent_id="trackingtest-id0",
    )
    return consent.serialise(choice, consent.signing_key(ckan_config["SECRET_KEY"]))


# --- The server: /_tracking -------------------------------------------------------------


@pytest.mark.usefixtures("no_rows")
@pytest.mark.parametrize("plugins", ORDERS)
class TestHits:
    def test_no_choice_is_not_stored(self, app: Any, plugins: str) -> None:
        _hit(app.test_client())
        assert tracked_rows() == 0

    def test_refused_is_not_stored(self, app: Any, plugins: str) -> None:
        client = app.test_client()
        choose(client, "refuse_all")
        _hit(client)
        assert tracked_rows() == 0

    def test_accepted_is_stored(self, app: Any, plugins: str) -> None:
        client = app.test_client()
        choose(client, "accept_all")
        _hit(client)
        assert tracked_rows() == 1

    def test_statistics_alone_is_enough(self, app: Any, plugins: str) -> None:
        client = app.test_client()
        choose(client, "save", granted=["statistics"])
        _hit(client)
        assert tracked_rows() == 1

    def test_gpc_without_a_choice_is_not_stored(self, app: Any, plugins: str) -> None:
        _hit(app.test_client(), **{"Sec-GPC": "1"})
        assert tracked_rows() == 0

    def test_gpc_then_an_explicit_acceptance_is_stored(self, app: Any, plugins: str) -> None:
        client = app.test_client()
        choose(client, "accept_all")
        _hit(client, **{"Sec-GPC": "1"})
        assert tracked_rows() == 1

    def test_a_forged_cookie_is_not_stored(self, app: Any, plugins: str, ckan_config: Any) -> None:
        value = _signed(ckan_config, "statistics")
        forged = value[: -consent.SIGNATURE_LENGTH] + "A" * consent.SIGNATURE_LENGTH
        client = app.test_client()
        client.set_cookie(PREFERENCES, forged, domain="test.ckan.net")
        _hit(client)
        assert tracked_rows() == 0

    def test_a_validly_signed_cookie_is_stored(
        self, app: Any, plugins: str, ckan_config: Any
    ) -> None:
        """The control of the forged one: the same cookie, signed as the server signs it."""
        client = app.test_client()
        client.set_cookie(PREFERENCES, _signed(ckan_config, "statistics"), domain="test.ckan.net")
        _hit(client)
        assert tracked_rows() == 1

    def test_refused_and_allowed_hits_get_the_same_response(self, app: Any, plugins: str) -> None:
        refused = _hit(app.test_client())
        client = app.test_client()
        choose(client, "accept_all")
        allowed = _hit(client)
        assert refused.status_code == allowed.status_code

    def test_other_requests_are_untouched(self, app: Any, plugins: str) -> None:
        """A page, not a hit: the handler is asked nothing and stores nothing."""
        client = app.test_client()
        choose(client, "accept_all")
        assert client.get("/about").status_code == 200
        assert tracked_rows() == 0


@pytest.mark.usefixtures("no_rows")
@pytest.mark.ckan_config("ckan.plugins", "cookieconsent tracking")
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_an_exempt_statistics_category_tracks_until_the_visitor_objects(app: Any) -> None:
    """The example catalogue marks statistics exempt: on by default, off once refused."""
    _hit(app.test_client())
    assert tracked_rows() == 1
    client = app.test_client()
    choose(client, "refuse_all")
    _hit(client)
    assert tracked_rows() == 1


@pytest.mark.usefixtures("no_rows")
@pytest.mark.ckan_config("ckan.plugins", "tracking")
def test_without_cookieconsent_the_plugin_stores_every_hit(app: Any) -> None:
    """The control: the same hit, stored by CKAN's plugin alone, so the tests above can
    fail."""
    _hit(app.test_client())
    assert tracked_rows() == 1


# --- The page: tracking.js, gated -----------------------------------------------------------

_LIVE = re.compile(r'<script src="[^"]*tracking[^"]*\.js[^"]*" type="text/javascript">')
_INERT = re.compile(
    r'<script type="text/plain" data-cookieconsent-category="statistics" '
    r'data-cookieconsent-type="text/javascript" data-cookieconsent-src="[^"]*tracking[^"]*\.js'
)


@pytest.mark.parametrize("plugins", ORDERS)
def test_the_script_is_inert_before_a_choice(app: Any, plugins: str) -> None:
    body = app.test_client().get("/about").get_data(as_text=True)
    assert len(_INERT.findall(body)) == 1
    assert not _LIVE.search(body)
    assert "cookieconsent-gate" in body  # what starts it once allowed


@pytest.mark.parametrize("plugins", ORDERS)
def test_the_script_is_inert_after_refusal(app: Any, plugins: str) -> None:
    client = app.test_client()
    choose(client, "refuse_all")
    body = client.get("/about").get_data(as_text=True)
    assert len(_INERT.findall(body)) == 1
    assert not _LIVE.search(body)


@pytest.mark.parametrize("plugins", ORDERS)
def test_the_script_is_live_once_allowed(app: Any, plugins: str) -> None:
    client = app.test_client()
    choose(client, "accept_all")
    body = client.get("/about").get_data(as_text=True)
    assert len(_LIVE.findall(body)) == 1
    assert not _INERT.search(body)


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_without_the_tracking_plugin_nothing_changes(app: Any) -> None:
    body = app.test_client().get("/about").get_data(as_text=True)
    assert "tracking" not in body
    assert all(c.name != tracking.ENTRY for c in catalogue.current().cookies)


# --- The catalogue and the policy page --------------------------------------------------------


@pytest.mark.parametrize("plugins", ORDERS)
def test_statistics_declares_the_tracking_and_is_asked_about(app: Any, plugins: str) -> None:
    portal = catalogue.current()
    entry = next(c for c in portal.cookies if c.name == tracking.ENTRY)
    assert entry.category == "statistics"
    assert "statistics" in portal.optional_category_ids
    body = app.test_client().get("/about").get_data(as_text=True)
    assert 'name="granted" value="statistics"' in body  # the banner asks


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent tracking")
@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", ["No cookie", "MD5", "IP address"]), ("fr", ["Aucun cookie", "MD5", "adresse IP"])],
)
def test_the_policy_page_says_what_is_stored(app: Any, lang: str, words: list[str]) -> None:
    path = "/cookies" if lang == "en" else f"/{lang}/cookies"
    body = app.test_client().get(path).get_data(as_text=True)
    section = body.split('id="cookies-statistics"', 1)[1].split("</section>", 1)[0]
    for word in words:
        assert word in section
