"""The browser agrees with the server: a preferences cookie the server rejects is no choice
in the page either. Debian's chromium through Playwright (fixtures in browser_fixtures.py), against
the test's CKAN with the demo's catalogue and theme (dev/demo_theme: a gated statistics
script, /demo/stats.js, on every page; on /about a gated frame).

Each test plants one cookie in the browser before the first page, as a sibling site or a
tampering visitor could, and checks that the banner stays, the script's API allows nothing
and nothing gated is requested or set. A validly signed cookie, planted the same way, is
the control: it is a choice, so these tests see what they claim to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from helpers import DEMO_MARKS
from page_probes import allowed, keep_on_loopback
from playwright.sync_api import expect

from ckanext.cookieconsent import catalogue, config, consent

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

GATED = {"/demo/stats.js", "/demo/embed.html"}
STATS_COOKIE = "demo_stats_id"
PREFERENCES = "cookies_preferences"
CONSENT_ID = "forgedconsent-id"  # 16 base64url characters

pytestmark = DEMO_MARKS


@pytest.fixture
def requested(page: Page) -> Iterator[list[str]]:
    """The paths `page`'s context requested (frames included); nothing leaves loopback."""
    paths: list[str] = []

    def note(request: Request) -> None:
        paths.append(urlsplit(request.url).path)

    page.context.on("request", note)
    keep_on_loopback(page)
    yield paths


def _signed(ckan_config: Any, *, revision: str | None = None, age: int = 0, granted: str) -> str:
    """A cookie value signed with the test's SECRET_KEY, as the server would write it."""
    choice = consent.Choice(
        revision=revision or catalogue.current().revision,
        granted=frozenset(granted.split("/")),
        source="cookie",
        made_at=int(time.time()) - age,
        consent_id=CONSENT_ID,
    )
    return consent.serialise(choice, consent.signing_key(ckan_config["SECRET_KEY"]))


def _open_with_cookie(page: Page, live_server: str, value: str) -> None:
    page.context.add_cookies([{"name": PREFERENCES, "value": value, "url": live_server}])
    response = page.goto(f"{live_server}/about")
    assert response is not None and response.status == 200, "not a normal page"
    page.wait_for_load_state("networkidle")  # whatever the page starts by itself is asked for


def _stats_cookie_set(page: Page) -> bool:
    return any(c.get("name") == STATS_COOKIE for c in page.context.cookies())


def test_a_valid_planted_cookie_is_a_choice(
    page: Page, live_server: str, requested: list[str], ckan_config: Any
) -> None:
    """The control: the same planting, with a value the server accepts."""
    _open_with_cookie(page, live_server, _signed(ckan_config, granted="media/statistics"))

    expect(page.locator("#cookieconsent-banner")).to_have_count(0)
    expect(page.locator("#demo-stats-badge")).to_be_visible()
    assert allowed(page, "statistics")
    assert "/demo/stats.js" in requested


def _forged_signature(ckan_config: Any) -> str:
    value = _signed(ckan_config, granted="media/statistics")
    return value[: -consent.SIGNATURE_LENGTH] + "A" * consent.SIGNATURE_LENGTH


def _expired(ckan_config: Any) -> str:
    return _signed(ckan_config, age=config.cookie_max_age() + 3600, granted="media/statistics")


def _unknown_category(ckan_config: Any) -> str:
    return _signed(ckan_config, granted="marketing/media/statistics")


def _another_revision(ckan_config: Any) -> str:
    return _signed(ckan_config, revision="another-revision", granted="media/statistics")


def _non_ascii_signature(ckan_config: Any) -> str:
    return _signed(ckan_config, granted="media/statistics")[:-1] + "é"


REJECTED = {
    "forged-signature": _forged_signature,
    "expired": _expired,
    "unknown-category": _unknown_category,
    "another-revision": _another_revision,
    "non-ascii-signature": _non_ascii_signature,
}


@pytest.mark.parametrize("make_value", REJECTED.values(), ids=REJECTED.keys())
def test_a_cookie_the_server_rejects_is_no_choice_in_the_browser(
    page: Page, live_server: str, requested: list[str], ckan_config: Any, make_value: Any
) -> None:
    _open_with_cookie(page, live_server, make_value(ckan_config))

    expect(page.locator("#cookieconsent-banner")).to_be_visible()
    assert not allowed(page, "statistics")
    assert GATED & set(requested) == set()
    assert not _stats_cookie_set(page)
