"""ckanext-googleanalytics in a real browser, listed before or after cookieconsent.

Debian's chromium through Playwright (fixtures in browser_fixtures.py) against the test's CKAN on
127.0.0.1 with the real ckanext-googleanalytics and only the built-in catalogue: the
statistics category holds no cookie but the `_ga` ones the integration declares, so these
tests also show that visitors are asked about it and can allow it.

Every request of the context is recorded. Requests to Google's hosts
(www.googletagmanager.com, www.google-analytics.com, *.google-analytics.com) are answered
locally by the test; any other request off loopback is aborted and fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from page_probes import keep_on_loopback, leaves_loopback, mark_document, marker
from playwright.sync_api import expect

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Locator, Page, Request, Route

GOOGLE_HOSTS = {"www.googletagmanager.com", "www.google-analytics.com", "google-analytics.com"}
GTAG = "https://www.googletagmanager.com/gtag/js?id=G-TEST123"
GTM = "https://www.googletagmanager.com/gtm.js?id=GTM-TEST123"
GTM_FRAME = "https://www.googletagmanager.com/ns.html?id=GTM-TEST123"

ORDERS = [
    pytest.param(order, marks=pytest.mark.ckan_config("ckan.plugins", order), id=ident)
    for order, ident in [
        ("cookieconsent googleanalytics", "cookieconsent-first"),
        ("googleanalytics cookieconsent", "googleanalytics-first"),
    ]
]


def _mode(mode: str, tracking_id: str, tag: str) -> Any:
    marks = [
        pytest.mark.ckan_config("googleanalytics.id", tracking_id),
        pytest.mark.ckan_config("googleanalytics.tracking_mode", mode),
    ]
    return pytest.param(tag, marks=marks, id=mode)


# The tag each mode's snippet loads: gtag.js for Google Analytics 4, gtm.js for Tag Manager.
MODES = [_mode("gtag", "G-TEST123", GTAG), _mode("gtm", "GTM-TEST123", GTM)]

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("with_plugins")]


# --- Recording Google's traffic ----------------------------------------------------------


def _is_google(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in GOOGLE_HOSTS or host.endswith(".google-analytics.com")


@dataclass
class Google:
    """Every request the context's pages and frames sent to Google's hosts, in order."""

    requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # other non-loopback requests


# What the local answer to Google's scripts does: count its runs.
_TAG_BODY = "window.__tagRuns = (window.__tagRuns || 0) + 1;"


def _answer(route: Route) -> None:
    path = urlsplit(route.request.url).path
    if path in ("/gtag/js", "/gtm.js"):
        route.fulfill(body=_TAG_BODY, content_type="text/javascript")
    elif path == "/ns.html":
        route.fulfill(body="<!doctype html><title>GTM</title>", content_type="text/html")
    else:  # collection endpoints (/g/collect, /collect ...)
        route.fulfill(status=204)


def _record(page: Page) -> Iterator[Google]:
    record = Google()

    def note(request: Request) -> None:
        if _is_google(request.url):
            record.requests.append(request.url)
        elif leaves_loopback(request.url):
            record.elsewhere.append(request.url)

    page.context.on("request", note)
    keep_on_loopback(page)
    page.context.route(_is_google, _answer)  # registered last: takes precedence
    yield record
    assert record.elsewhere == [], "requests to other non-loopback hosts (aborted)"


@pytest.fixture
def google(page: Page) -> Iterator[Google]:
    """Google's traffic from `page` (JavaScript on)."""
    yield from _record(page)


@pytest.fixture
def page_without_js(new_page: Callable[..., Page]) -> Page:
    return new_page(java_script_enabled=False)


@pytest.fixture
def google_without_js(page_without_js: Page) -> Iterator[Google]:
    """Google's traffic from `page_without_js`."""
    yield from _record(page_without_js)


# --- Helpers ---------------------------------------------------------------------------------


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _button(page: Page, action: str) -> Locator:
    """The banner's button by its form value (`accept_all`, `refuse_all`), whatever its
    label says ("Refuse all" or "Reject all")."""
    return _banner(page).locator(f"button[name='action'][value='{action}']")


def _open(page: Page, url: str | None = None) -> None:
    """Load `url` (reload if None) and wait until no request has been made for 500 ms:
    whatever the page loads by itself has been asked for."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_load_state("networkidle")


def _choose(page: Page, action: str) -> None:
    _button(page, action).click()
    expect(_banner(page)).to_be_hidden()  # the choice is applied


# --- With JavaScript -----------------------------------------------------------------------


@pytest.fixture
def about(page: Page, live_server: str, google: Google, plugins: str, tag: str) -> Page:
    """/about with JavaScript, Google's traffic recorded from the start; `plugins` and
    `tag` (parametrised by the test) set the plugin order and the tracking mode."""
    _open(page, f"{live_server}/about")
    return page


@pytest.mark.parametrize("tag", MODES)
@pytest.mark.parametrize("plugins", ORDERS)
def test_nothing_from_google_before_a_choice(about: Page, google: Google) -> None:
    page = about
    # Visitors are asked about the category the tag waits for.
    expect(_banner(page).locator("input[name='granted'][value='statistics']")).to_have_count(1)
    assert google.requests == []
    assert page.evaluate("() => window.__tagRuns") is None


@pytest.mark.parametrize("tag", MODES)
@pytest.mark.parametrize("plugins", ORDERS)
def test_nothing_from_google_after_reject_all(about: Page, google: Google) -> None:
    page = about
    _choose(page, "refuse_all")
    _open(page)  # and on the next page

    expect(_banner(page)).to_have_count(0)  # the choice holds
    assert google.requests == []


@pytest.mark.parametrize("tag", MODES)
@pytest.mark.parametrize("plugins", ORDERS)
def test_tag_loads_after_accept_all(about: Page, google: Google, tag: str) -> None:
    page = about
    mark_document(page)

    _choose(page, "accept_all")

    page.wait_for_function("() => window.__tagRuns === 1")
    assert marker(page) == 1, "the page reloaded"
    assert google.requests == [tag]

    _open(page)  # the next page renders the tag live
    page.wait_for_function("() => window.__tagRuns === 1")
    assert google.requests == [tag, tag]


# --- Without JavaScript: Tag Manager's <noscript> frame -------------------------------------


@pytest.mark.ckan_config("googleanalytics.id", "GTM-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtm")
@pytest.mark.parametrize(
    ("action", "expected"),
    [(None, []), ("refuse_all", []), ("accept_all", [GTM_FRAME])],
    ids=["no-choice", "reject-all", "accept-all"],
)
@pytest.mark.parametrize("plugins", ORDERS)
def test_tag_manager_frame_without_javascript(
    page_without_js: Page,
    live_server: str,
    google_without_js: Google,
    plugins: str,
    action: str | None,
    expected: list[str],
) -> None:
    page = page_without_js
    _open(page, f"{live_server}/about")
    assert google_without_js.requests == []

    if action:
        with page.expect_navigation():
            _button(page, action).click()  # the form posts, and the server redirects back
        page.wait_for_load_state("networkidle")
        expect(_banner(page)).to_have_count(0)

    assert google_without_js.requests == expected


# --- Google Consent Mode v2, basic mode ------------------------------------------------------

DENIED = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
}
ANALYTICS_GRANTED = {**DENIED, "analytics_storage": "granted"}
ONE_ORDER = [ORDERS[0]]
GTAG_ONLY = [MODES[0]]


def _consent_commands(page: Page) -> list[list[Any]]:
    """The Consent Mode commands queued in `dataLayer`, in order: [command, signals]."""
    return page.evaluate(
        "() => (window.dataLayer || []).map((entry) => Array.from(entry))"
        ".filter((entry) => entry[0] === 'consent').map((entry) => [entry[1], entry[2]])"
    )


@pytest.mark.parametrize("tag", GTAG_ONLY)
@pytest.mark.parametrize("plugins", ONE_ORDER)
def test_consent_mode_denies_every_signal_before_a_choice(about: Page, google: Google) -> None:
    assert _consent_commands(about) == [["default", DENIED]]
    # gtag exists (ckanext-googleanalytics' download tracking calls it) and only queues.
    about.evaluate("() => gtag('event', 'Download', {event_category: 'Resource'})")
    _open(about)
    assert google.requests == []


@pytest.mark.parametrize("tag", GTAG_ONLY)
@pytest.mark.parametrize("plugins", ONE_ORDER)
def test_consent_mode_is_updated_by_a_choice_and_on_the_next_page(
    about: Page, google: Google, tag: str
) -> None:
    _choose(about, "accept_all")
    assert _consent_commands(about) == [["default", DENIED], ["update", ANALYTICS_GRANTED]]
    _open(about)  # the next page: denied by default, then granted before the tag runs
    assert _consent_commands(about) == [["default", DENIED], ["update", ANALYTICS_GRANTED]]
    assert about.evaluate(
        "() => { const i = dataLayer.findIndex((e) => e[0] === 'consent' && e[1] === 'update');"
        " const j = dataLayer.findIndex((e) => e[0] === 'config'); return i >= 0 && i < j; }"
    ), "the update comes before the tag's config"
    about.wait_for_function("() => window.__tagRuns === 1")


@pytest.mark.parametrize("tag", GTAG_ONLY)
@pytest.mark.parametrize("plugins", ONE_ORDER)
def test_consent_mode_stays_denied_after_reject_all(about: Page, google: Google) -> None:
    _choose(about, "refuse_all")
    assert _consent_commands(about) == [["default", DENIED], ["update", DENIED]]
    _open(about)
    assert _consent_commands(about) == [["default", DENIED]]
    assert google.requests == []


@pytest.mark.parametrize("tag", GTAG_ONLY)
@pytest.mark.parametrize("plugins", ONE_ORDER)
@pytest.mark.ckan_config(
    "ckanext.cookieconsent.consent_mode", "analytics_storage=statistics ad_user_data=statistics"
)
def test_consent_mode_follows_the_configured_categories(about: Page, google: Google) -> None:
    _choose(about, "accept_all")
    granted = {**ANALYTICS_GRANTED, "ad_user_data": "granted"}
    assert _consent_commands(about)[-1] == ["update", granted]


@pytest.mark.parametrize("tag", GTAG_ONLY)
@pytest.mark.parametrize("plugins", ONE_ORDER)
@pytest.mark.ckan_config("ckanext.cookieconsent.consent_mode", "")
def test_consent_mode_can_be_switched_off(about: Page, google: Google) -> None:
    assert _consent_commands(about) == []
