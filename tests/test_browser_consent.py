"""The banner and the policy page in a real browser: Debian's chromium through Playwright,
against the test's CKAN served over HTTP on 127.0.0.1 (fixtures in browser_fixtures.py).

test_consent_flow.py checks the same flows on the server; these tests check what only a
browser shows: the script's enhancements (no reload, focus, the JavaScript API and event,
cookie deletion), the plain forms without JavaScript, the keyboard and the layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import EXAMPLE_MARKS
from page_probes import allowed, forms_script_loaded, mark_document, marker
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

COOKIE = "cookies_preferences"

pytestmark = [pytest.mark.browser, *EXAMPLE_MARKS]


# --- Helpers ---------------------------------------------------------------------------


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement.id"))


def _cookies(context: BrowserContext) -> dict[str, str]:
    return {c.get("name", ""): c.get("value", "") for c in context.cookies()}


def _granted(context: BrowserContext) -> set[str]:
    """The categories the preferences cookie grants: its 5th field, ids joined by '/'."""
    field = _cookies(context)[COOKIE].split(":")[4]
    return set(field.split("/")) if field else set()


def _switch(page: Page, title: str) -> Locator:
    return _banner(page).get_by_role("switch", name=title)


# --- With JavaScript: choices apply without a reload ------------------------------------


@pytest.mark.parametrize(
    ("button", "media", "statistics"),
    [("Accept all", True, True), ("Reject all", False, False)],
    ids=["accept-all", "refuse-all"],
)
def test_one_click_choice_applies_without_reload(
    page: Page, live_server: str, button: str, media: bool, statistics: bool
) -> None:
    page.goto(f"{live_server}/about")
    expect(_banner(page)).to_be_visible()
    mark_document(page)

    _banner(page).get_by_role("button", name=button, exact=True).click()

    expect(_banner(page)).to_be_hidden()
    assert marker(page) == 1, "the page reloaded"
    assert COOKIE in _cookies(page.context)
    assert (allowed(page, "media"), allowed(page, "statistics")) == (media, statistics)
    assert _focused_id(page) == "content"


def test_customise_opens_the_switches_and_focuses_the_first_one(
    page: Page, live_server: str
) -> None:
    page.goto(f"{live_server}/about")
    forms_script_loaded(page)
    customise = _banner(page).get_by_role("button", name="Customise")
    expect(customise).to_have_attribute("aria-expanded", "false")
    expect(_switch(page, "Third-party content")).to_be_hidden()

    customise.click()

    expect(customise).to_have_attribute("aria-expanded", "true")
    expect(_switch(page, "Third-party content")).to_be_visible()
    # Strictly necessary is locked on: the first switch one can change is the next one.
    expect(_switch(page, "Strictly necessary")).to_be_disabled()
    expect(_switch(page, "Audience measurement")).to_be_focused()


@pytest.mark.parametrize("keep_statistics", [True, False])
def test_customised_choice_applies_without_reload(
    page: Page, live_server: str, keep_statistics: bool
) -> None:
    page.goto(f"{live_server}/about")
    forms_script_loaded(page)
    _banner(page).get_by_role("button", name="Customise").click()
    statistics = _switch(page, "Audience measurement")
    media = _switch(page, "Third-party content")
    # Audience measurement is exempt in the example catalogue: on until turned off.
    expect(statistics).to_be_checked()
    expect(media).not_to_be_checked()
    mark_document(page)

    media.press("Space")
    expect(media).to_be_checked()
    if not keep_statistics:
        statistics.press("Space")
        expect(statistics).not_to_be_checked()
    _banner(page).get_by_role("button", name="Save my choices").click()

    expect(_banner(page)).to_be_hidden()
    assert marker(page) == 1, "the page reloaded"
    assert allowed(page, "media")
    assert allowed(page, "statistics") is keep_statistics
    assert _focused_id(page) == "content"


def test_a_choice_dispatches_one_change_event(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    page.evaluate(
        """() => {
            window.__events = [];
            document.addEventListener("cookieconsent:change",
                                      (e) => window.__events.push(e.detail.choice));
        }"""
    )

    _banner(page).get_by_role("button", name="Accept all").click()

    expect(_banner(page)).to_be_hidden()
    events = page.evaluate("() => window.__events")
    assert len(events) == 1
    assert events[0]["categories"] == {"necessary": True, "statistics": True, "media": True}
    assert events[0]["source"] == "cookie"


def test_withdrawal_on_the_policy_page_applies_without_reload(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    _banner(page).get_by_role("button", name="Accept all").click()
    expect(_banner(page)).to_be_hidden()
    # Matomo's cookie, set once statistics were allowed; host-only, readable by scripts.
    page.context.add_cookies([{"name": "_pk_id.1.abcd", "value": "x", "url": live_server}])
    page.goto(f"{live_server}/cookies")
    assert allowed(page, "media")
    assert "_pk_id.1.abcd" in _cookies(page.context)
    mark_document(page)

    page.get_by_role("button", name="Withdraw my consent").click()

    status = page.locator("#cookieconsent-choice").get_by_role("status")
    expect(status).to_have_text("Your choice has been saved.")
    assert marker(page) == 1, "the page reloaded"
    assert not allowed(page, "media")
    assert not allowed(page, "statistics")
    assert "_pk_id.1.abcd" not in _cookies(page.context)
    assert _granted(page.context) == set()


# --- Without JavaScript: plain forms, the server redirects back ---------------------------


def test_refuse_all_without_javascript(new_page: Callable[..., Page], live_server: str) -> None:
    page = new_page(java_script_enabled=False)
    page.goto(f"{live_server}/about")

    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        _banner(page).get_by_role("button", name="Reject all").click()

    assert posted.value.status == 303
    expect(page).to_have_url(f"{live_server}/about")
    expect(_banner(page)).to_have_count(0)
    assert _granted(page.context) == set()


def test_customise_without_javascript(new_page: Callable[..., Page], live_server: str) -> None:
    page = new_page(java_script_enabled=False)
    page.goto(f"{live_server}/about")
    media = _switch(page, "Third-party content")
    expect(media).to_be_hidden()

    # A link to the switches, shown by CSS :target.
    _banner(page).get_by_role("link", name="Customise").click()
    expect(page).to_have_url(f"{live_server}/about#cookieconsent-preferences")
    expect(media).to_be_visible()
    expect(_switch(page, "Audience measurement")).to_be_checked()  # exempt: on by default
    media.check()
    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        _banner(page).get_by_role("button", name="Save my choices").click()

    assert posted.value.status == 303
    expect(page).to_have_url(f"{live_server}/about")
    expect(_banner(page)).to_have_count(0)
    assert _granted(page.context) == {"media", "statistics"}


# --- CSRF protection on: the page's token goes with the choice, with or without JavaScript ---


@pytest.mark.ckan_config("WTF_CSRF_ENABLED", True)
@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_choice_passes_csrf_protection(
    new_page: Callable[..., Page], live_server: str, javascript: bool
) -> None:
    page = new_page(java_script_enabled=javascript)
    page.goto(f"{live_server}/about")

    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        _banner(page).get_by_role("button", name="Accept all").click()

    assert posted.value.status == (200 if javascript else 303)
    expect(_banner(page)).not_to_be_visible()
    assert _granted(page.context) == {"media", "statistics"}


# --- Language, keyboard, layout -------------------------------------------------------------


def test_banner_in_french(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/fr/about")
    forms_script_loaded(page)  # "Personnaliser": a button once it is there
    for label in ("Tout accepter", "Tout refuser", "Personnaliser"):
        expect(_banner(page).get_by_role("button", name=label, exact=True)).to_be_visible()


FOCUS_PLACE = """() => {
    const active = document.activeElement;
    if (document.getElementById("cookieconsent-banner").contains(active)) {
        return "banner";
    }
    return active.closest(".account-masthead, header.masthead") ? "header" : active.tagName;
}"""


def test_banner_does_not_trap_the_focus(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    _banner(page).get_by_role("link", name="Read the cookie policy").focus()  # the first
    assert page.evaluate(FOCUS_PLACE) == "banner"

    # Enough Tabs to go through every control of the banner and one step more.
    places = []
    for _ in range(_banner(page).locator("a, button, input").count()):
        page.keyboard.press("Tab")
        places.append(page.evaluate(FOCUS_PLACE))
        if places[-1] != "banner":
            break

    assert places[-1] == "header", places


# Everything in the banner lies inside the window, and the banner comes first (position
# top: it pushes the page down, covers nothing). At 320 px the page itself scrolls sideways
# by 6 px, but that is CKAN's own Bootstrap rows, with or without this extension.
BANNER_OVERFLOW = """(width) => Array.from(
    document.querySelectorAll("#cookieconsent-banner, #cookieconsent-banner *"))
    .map((element) => [element, element.getBoundingClientRect()])
    .filter(([element, box]) => box.width > 0 && (box.left < 0 || box.right > width + 0.5))
    .map(([element, box]) => `${element.tagName}.${element.className}: ${box.left}-${box.right}`)
"""


@pytest.mark.parametrize(
    ("width", "height", "customise"),
    [(1280, 800, False), (320, 640, False), (320, 640, True)],
    ids=["desktop", "narrow", "narrow-customise"],
)
def test_banner_fits_the_window(
    new_page: Callable[..., Page],
    live_server: str,
    tmp_path: Path,
    width: int,
    height: int,
    customise: bool,
) -> None:
    page = new_page(viewport={"width": width, "height": height})
    page.goto(f"{live_server}/about")
    banner = _banner(page)
    if customise:
        forms_script_loaded(page)
        banner.get_by_role("button", name="Customise").click()
        expect(_switch(page, "Third-party content")).to_be_visible()
    expect(banner).to_be_visible()

    page.screenshot(path=str(tmp_path / "banner.png"))  # kept by pytest, to look at

    assert page.evaluate(BANNER_OVERFLOW, width) == []
    # At the very top of the document (the switches may have scrolled the window).
    assert banner.evaluate("(element) => element.getBoundingClientRect().top + scrollY") == 0
