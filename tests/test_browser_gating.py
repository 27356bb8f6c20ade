"""Gating in a real browser: what the page requests before and after the visitor's choice.

Debian's chromium through Playwright (fixtures in browser_fixtures.py), against the test's CKAN on
127.0.0.1 with the demo's catalogue and theme (dev/demo_theme: a gated statistics script,
/demo/stats.js, on every page; on /about a gated frame served from "localhost", another
site for the browser), plus tests/gating_theme: a gated inline script that counts its runs.

Every request of the context (pages and frames) is recorded. Nothing may leave loopback:
any other request is aborted and fails the test at teardown, except ckanext-googleanalytics'
tag, which its tests route to a local answer.

test_gating.py checks the same macros on the server; these tests check what only a browser
shows: which requests are made, when, and how many times.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from helpers import DEMO, DEMO_CATALOGUE
from page_probes import (
    allowed,
    forms_script_loaded,
    keep_on_loopback,
    leaves_loopback,
    mark_document,
    marker,
)
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, FrameLocator, Locator, Page, Request, Route

DEMO_THEME = DEMO / "demo_theme"
TEST_THEME = Path(__file__).resolve().parent / "gating_theme"

STATS = "/demo/stats.js"
EMBED = "/demo/embed.html"
STATS_COOKIE = "demo_stats_id"
GATED_COOKIES = {STATS_COOKIE, "demo_embed_pref"}
PREFERENCES = "cookies_preferences"
GTAG_HOST = "www.googletagmanager.com"
GTAG = f"https://{GTAG_HOST}/gtag/js?id=G-TEST123"

pytestmark = [
    pytest.mark.browser,
    # The test theme first: its page.html extends the demo theme's, which extends ours.
    pytest.mark.ckan_config(
        "extra_template_paths", f"{TEST_THEME / 'templates'},{DEMO_THEME / 'templates'}"
    ),
    pytest.mark.ckan_config(
        "extra_public_paths", f"{TEST_THEME / 'public'},{DEMO_THEME / 'public'}"
    ),
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO_CATALOGUE),
    # ckan.plugins is test.ini's ("cookieconsent") unless a class says otherwise: a
    # module-level mark would win over a class- or function-level one for the same key.
    pytest.mark.usefixtures("with_plugins"),
]


# --- Serving and recording the traffic --------------------------------------------------------


@dataclass
class Traffic:
    """Every URL the context's pages and frames requested, in order."""

    urls: list[str] = field(default_factory=list)
    # Non-loopback requests answered locally by a test's own route (not aborted).
    fulfilled: list[str] = field(default_factory=list)

    def mark(self) -> int:
        """A point in the record, for counting what comes after it."""
        return len(self.urls)

    def count(self, path: str, since: int = 0) -> int:
        """Requests for `path`, on any host, since `since`."""
        return sum(1 for url in self.urls[since:] if urlsplit(url).path == path)

    def gated(self, since: int = 0) -> list[str]:
        """Requests for the demo's gated script or frame since `since`."""
        return [url for url in self.urls[since:] if urlsplit(url).path in (STATS, EMBED)]


@pytest.fixture
def traffic(page: Page) -> Iterator[Traffic]:
    """Records the requests of `page`'s context and keeps them on loopback: any other
    request is aborted, and fails the test at teardown unless a test fulfilled it."""
    record = Traffic()

    def note(request: Request) -> None:
        record.urls.append(request.url)

    page.context.on("request", note)
    keep_on_loopback(page)
    yield record
    escaped = [url for url in record.urls if leaves_loopback(url) and url not in record.fulfilled]
    assert escaped == [], "requests to non-loopback hosts (aborted)"


# --- Helpers ------------------------------------------------------------------------------


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _placeholder(page: Page) -> Locator:
    return page.locator("[data-cookieconsent-embed='media']")


def _embed(page: Page) -> FrameLocator:
    return page.frame_locator(f"iframe[src*='{EMBED}']")


def _expect_embed_loaded(page: Page) -> None:
    expect(_embed(page).locator("#loaded")).to_have_text("Embedded third-party content loaded")


def _inert_stats(page: Page) -> Locator:
    return page.locator(f"script[type='text/plain'][data-cookieconsent-src='{STATS}']")


def _expect_stats_ran(page: Page) -> None:
    expect(page.locator("#demo-stats-badge")).to_be_visible()


def _open(page: Page, url: str | None = None) -> None:
    """Load `url` (reload the page if None) and wait for the network to be idle: no request
    for 500 ms, frames included. Whatever the page loads by itself has been asked for.

    Only after a navigation: Playwright fires "networkidle" once per navigation, so after a
    click in the page the wait would return at once (or, once a frame is added, hang). After
    a click the tests wait for what the page does synchronously as it applies the choice
    (banner hidden, status shown, event dispatched), by which time any gated script would
    have been inserted and requested, and any frame inserted (frames load lazily: the
    tests check that the placeholder is still there, or wait for the frame's content).
    """
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_load_state("networkidle")


def _cookie_names(context: BrowserContext) -> set[str]:
    return {cookie.get("name", "") for cookie in context.cookies()}  # every host


def _granted(context: BrowserContext) -> set[str]:
    """The categories the preferences cookie grants: its 5th field, ids joined by '/'."""
    value = next(c.get("value", "") for c in context.cookies() if c.get("name") == PREFERENCES)
    field_ = value.split(":")[4]
    return set(field_.split("/")) if field_ else set()


def _accept_all(page: Page) -> None:
    _banner(page).get_by_role("button", name="Accept all").click()
    expect(_banner(page)).to_be_hidden()


def _attributes(locator: Locator) -> dict[str, str]:
    return locator.evaluate(
        "(element) => Object.fromEntries(Array.from(element.attributes, (a) => [a.name, a.value]))"
    )


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read().decode()


# --- The set-up itself --------------------------------------------------------------------


def test_demo_theme_is_served(live_server: str) -> None:
    status, _, about = _get(f"{live_server}/about")
    assert status == 200
    assert 'type="text/plain" data-cookieconsent-category="statistics"' in about
    assert f'data-cookieconsent-src="{STATS}"' in about
    assert 'id="gating-probe"' in about
    frame = re.search(r'<template><iframe src="([^"]+)"', about)
    assert frame is not None, "no gated frame on /about"
    assert frame.group(1) == live_server.replace("127.0.0.1", "localhost") + f"{EMBED}?lang=en"

    assert _get(f"{live_server}{STATS}")[:2] == (200, "text/javascript")
    assert _get(frame.group(1))[:2] == (200, "text/html")


# --- Before consent, and after a refusal -------------------------------------------------


@pytest.mark.parametrize("button", [None, "Reject all"], ids=["no-choice", "refuse-all"])
def test_nothing_gated_is_requested(
    page: Page, live_server: str, traffic: Traffic, button: str | None
) -> None:
    _open(page, f"{live_server}/about")
    if button:
        _banner(page).get_by_role("button", name=button, exact=True).click()
        expect(_banner(page)).to_be_hidden()  # the choice is applied

    expect(_inert_stats(page)).to_have_count(1)
    expect(_placeholder(page)).to_be_visible()
    assert traffic.gated() == []
    assert _cookie_names(page.context) & GATED_COOKIES == set()


# --- Consent starts the gated content in place, once ----------------------------------------


def test_accept_all_starts_script_and_embed_once_without_reload(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")
    mark_document(page)

    _accept_all(page)

    _expect_stats_ran(page)
    _expect_embed_loaded(page)
    assert marker(page) == 1, "the page reloaded"
    assert (traffic.count(STATS), traffic.count(EMBED)) == (1, 1), traffic.gated()
    assert STATS_COOKIE in _cookie_names(page.context)
    assert allowed(page, "statistics")


def test_scripts_start_in_document_order(page: Page, live_server: str) -> None:
    """A library, inline code calling it, an external script calling it: once allowed,
    they run in that order, as they would had the server rendered them live."""
    _open(page, f"{live_server}/about")

    _accept_all(page)

    page.wait_for_function("() => (window.__order || []).length === 3")
    assert page.evaluate("() => window.__order") == ["lib", "inline:object", "use:object"]


def test_customised_choice_starts_only_its_category(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")
    forms_script_loaded(page)
    _banner(page).get_by_role("button", name="Customise").click()
    _banner(page).get_by_role("switch", name="Third-party content").check()
    _banner(page).get_by_role("button", name="Save my choices").click()
    expect(_banner(page)).to_be_hidden()

    _expect_embed_loaded(page)
    expect(_inert_stats(page)).to_have_count(1)
    assert (traffic.count(STATS), traffic.count(EMBED)) == (0, 1), traffic.gated()


# --- Withdrawal on the policy page --------------------------------------------------------


def _accept_then_open_policy(page: Page, live_server: str, traffic: Traffic) -> None:
    _open(page, f"{live_server}/about")
    _accept_all(page)
    _expect_embed_loaded(page)
    start = traffic.mark()
    _open(page, f"{live_server}/cookies")
    _expect_stats_ran(page)  # the theme's script is on every page, live once allowed
    assert traffic.count(STATS, since=start) == 1
    assert STATS_COOKIE in _cookie_names(page.context)


def _withdraw(page: Page) -> None:
    page.get_by_role("button", name="Withdraw my consent").click()
    status = page.locator("#cookieconsent-choice").get_by_role("status")
    expect(status).to_have_text("Your choice has been saved.")


def test_withdrawal_deletes_the_statistics_cookie_without_reload(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _accept_then_open_policy(page, live_server, traffic)
    mark_document(page)

    _withdraw(page)

    assert marker(page) == 1, "the page reloaded"
    assert STATS_COOKIE not in _cookie_names(page.context)


def test_nothing_gated_is_requested_after_withdrawal(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _accept_then_open_policy(page, live_server, traffic)
    _withdraw(page)
    start = traffic.mark()

    _open(page, f"{live_server}/about")

    expect(_placeholder(page)).to_be_visible()
    assert traffic.gated(since=start) == []


# --- The embed's own buttons -----------------------------------------------------------------


def _allow_once(page: Page) -> None:
    _placeholder(page).get_by_role("button", name="Allow this once").click()
    _expect_embed_loaded(page)


def test_allow_this_once_loads_only_that_embed(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")

    _allow_once(page)

    expect(_inert_stats(page)).to_have_count(1)
    assert (traffic.count(STATS), traffic.count(EMBED)) == (0, 1), traffic.gated()
    assert _cookie_names(page.context) & {PREFERENCES, STATS_COOKIE} == set()


def test_allow_this_once_is_forgotten_on_reload(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")
    _allow_once(page)

    _open(page)

    expect(_placeholder(page).get_by_role("button", name="Allow this once")).to_be_visible()
    expect(_banner(page)).to_be_visible()
    assert traffic.count(EMBED) == 1, traffic.gated()


def test_always_allow_loads_the_embed_and_allows_its_category(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")
    mark_document(page)

    _placeholder(page).get_by_role("button", name="Always allow “Third-party content”").click()

    _expect_embed_loaded(page)
    expect(_banner(page)).to_be_hidden()
    assert marker(page) == 1, "the page reloaded"
    assert (traffic.count(STATS), traffic.count(EMBED)) == (0, 1), traffic.gated()
    assert _granted(page.context) == {"media"}
    assert (allowed(page, "media"), allowed(page, "statistics")) == (True, False)


# --- Started scripts keep their attributes and run once --------------------------------------


def test_started_scripts_keep_their_attributes(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/about")

    _accept_all(page)

    page.wait_for_function("() => window.__runs === 1")
    _expect_stats_ran(page)
    started = {"data-cookieconsent-category": "statistics", "data-cookieconsent-activated": ""}
    assert _attributes(page.locator("script#gating-probe")) == {
        "type": "text/javascript",
        "id": "gating-probe",
        "class": "probe",
        "data-probe": "kept",
        **started,
    }
    assert _attributes(page.locator(f"script[src='{STATS}']")) == {
        "type": "text/javascript",
        "src": STATS,
        "async": "",
        **started,
    }


def test_accepting_again_does_not_run_scripts_again(
    page: Page, live_server: str, traffic: Traffic
) -> None:
    _open(page, f"{live_server}/cookies")
    page.evaluate(
        """() => {
            window.__changes = 0;
            document.addEventListener("cookieconsent:change", () => { window.__changes += 1; });
        }"""
    )
    policy = page.locator("#cookieconsent-choice")
    policy.get_by_role("button", name="Accept all").click()
    page.wait_for_function("() => window.__changes === 1 && window.__runs === 1")
    _expect_stats_ran(page)

    policy.get_by_role("button", name="Save my choices").click()

    # The choice is applied (scripts started) before the event is dispatched.
    page.wait_for_function("() => window.__changes === 2")
    assert (page.evaluate("() => window.__runs"), traffic.count(STATS)) == (1, 1)


# --- ckanext-googleanalytics's tag, answered locally ------------------------------------------

GTAG_BODY = "window.__gtagLoaded = (window.__gtagLoaded || 0) + 1;"


@pytest.fixture
def gtag(page: Page, traffic: Traffic) -> list[str]:
    """Google's tag answered by the test itself: the requests for it, in order."""
    served: list[str] = []

    def fulfil(route: Route) -> None:
        served.append(route.request.url)
        traffic.fulfilled.append(route.request.url)
        route.fulfill(body=GTAG_BODY, content_type="text/javascript")

    page.context.route(f"https://{GTAG_HOST}/**", fulfil)  # takes precedence over the guard
    return served


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent googleanalytics")
@pytest.mark.ckan_config("googleanalytics.id", "G-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtag")
class TestGoogleAnalytics:
    @pytest.mark.parametrize("button", [None, "Reject all"], ids=["no-choice", "refuse-all"])
    def test_tag_is_not_requested(
        self, page: Page, live_server: str, gtag: list[str], button: str | None
    ) -> None:
        _open(page, f"{live_server}/about")
        if button:
            _banner(page).get_by_role("button", name=button, exact=True).click()
            expect(_banner(page)).to_be_hidden()  # the choice is applied

        expect(
            page.locator(f"script[type='text/plain'][data-cookieconsent-src='{GTAG}']")
        ).to_have_count(1)
        assert gtag == []

    def test_tag_is_requested_once_after_accept_without_reload(
        self, page: Page, live_server: str, gtag: list[str]
    ) -> None:
        _open(page, f"{live_server}/about")
        mark_document(page)

        _accept_all(page)

        page.wait_for_function("() => window.__gtagLoaded === 1")
        assert marker(page) == 1, "the page reloaded"
        assert gtag == [GTAG]

    def test_tag_configuration_runs_once_after_accept(
        self, page: Page, live_server: str, gtag: list[str]
    ) -> None:
        _open(page, f"{live_server}/about")

        _accept_all(page)

        page.wait_for_function("() => window.__gtagLoaded === 1")
        # The inline part: gtag("set"), gtag("js"), gtag("config"), pushed once each (the
        # Consent Mode commands around them: test_browser_googleanalytics.py).
        commands = page.evaluate(
            "() => window.dataLayer.map((args) => args[0]).filter((c) => c !== 'consent')"
        )
        assert commands == ["set", "js", "config"]
