"""The banner's forms' script, loaded on intent, in a real browser (chromium through
Playwright, against the test's CKAN over HTTP on 127.0.0.1).

With the banner, a page loads only the core script; the core loads the forms' script on
the visitor's first sign of intent in the banner (a pointer over it, a touch, the focus, a
key). A choice made while it is on its way waits for it and applies without a reload; if it
cannot be loaded, the choice is the plain form POST (303 back to the page), and "Customise"
still opens the switches (CSS :target), its button semantics added once the script arrives.
The forms' script is held (a route answered only when the test says) or refused (a route
aborted) to make each case happen for sure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from helpers import EXAMPLE_MARKS
from page_probes import BANNER, allowed, mark_document, marker
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Route

pytestmark = [pytest.mark.browser, *EXAMPLE_MARKS]

FORMS = "**/webassets/cookieconsent/*_cookieconsent-forms.js*"
CUSTOMISE = f"{BANNER} [data-cookieconsent-customise]"


def _forms_requests(page: Page) -> list[Request]:
    """The requests for the forms' script, as they happen."""
    found: list[Request] = []
    page.on("request", lambda r: found.append(r) if "cookieconsent-forms" in r.url else None)
    return found


def _hold_forms(page: Page) -> list[Route]:
    """Hold the forms' script's requests until the test continues them."""
    held: list[Route] = []
    page.route(FORMS, lambda route: held.append(route))
    return held


def _asked_for(page: Page, held: list[Route]) -> Route:
    """The held request for the forms' script, once the page has made it: each round trip
    to the page lets Playwright hand over the requests it has seen."""
    for _ in range(200):
        if held:
            return held[0]
        page.evaluate("() => null")
    raise AssertionError("the forms' script was never asked for")


def _refuse_forms(page: Page) -> None:
    page.route(FORMS, lambda route: route.abort())


def _accept(page: Page, how: str) -> None:
    button = page.locator(f"{BANNER} button[value=accept_all]")
    if how == "click":
        button.click()
    else:
        button.focus()  # the focus alone is a sign of intent
        page.keyboard.press("Enter")


@pytest.mark.parametrize("intent", ["hover", "focus", "tap"])
def test_the_forms_script_comes_on_the_first_sign_of_intent(
    new_page: Callable[..., Page], live_server: str, intent: str
) -> None:
    page = new_page(has_touch=intent == "tap")
    requests = _forms_requests(page)
    page.goto(f"{live_server}/about")
    customise = page.locator(CUSTOMISE)
    expect(page.locator(BANNER)).to_be_visible()
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => resolve(null)))")
    assert requests == [], "the forms' script before any sign of intent"
    assert customise.get_attribute("role") is None, "enhanced without the forms' script"
    assert page.evaluate("() => window.ckanCookieConsent.choice().source") == "none"

    if intent == "hover":
        page.locator(f"{BANNER} .cookieconsent-banner__title").hover()
    elif intent == "focus":
        page.locator(f"{BANNER} a[href$='/cookies']").focus()
    else:
        page.locator(f"{BANNER} .cookieconsent-banner__title").tap()

    expect(customise).to_have_attribute("role", "button")
    expect(customise).to_have_attribute("aria-expanded", "false")
    assert len(requests) == 1, "loaded once"


@pytest.mark.parametrize("how", ["click", "keyboard"])
def test_a_choice_made_at_once_applies_without_a_reload(
    page: Page, live_server: str, how: str
) -> None:
    page.goto(f"{live_server}/about")
    mark_document(page)

    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        _accept(page, how)

    assert posted.value.status == 200, "sent by the forms' script"
    expect(page.locator(BANNER)).to_be_hidden()
    assert marker(page) == 1, "the page reloaded"
    assert allowed(page, "media")


@pytest.mark.parametrize("how", ["click", "keyboard"])
def test_a_choice_made_before_the_forms_script_arrives_waits_for_it(
    page: Page, live_server: str, how: str
) -> None:
    held = _hold_forms(page)
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.goto(f"{live_server}/about")
    mark_document(page)

    _accept(page, how)
    forms = _asked_for(page, held)
    assert posts == [], "sent before the forms' script arrived"
    expect(page.locator(BANNER)).to_be_visible()

    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        forms.continue_()

    assert posted.value.status == 200, "sent by the forms' script"
    expect(page.locator(BANNER)).to_be_hidden()
    assert marker(page) == 1, "the page reloaded"
    assert allowed(page, "media")


@pytest.mark.parametrize("how", ["click", "keyboard"])
def test_without_the_forms_script_a_choice_is_the_plain_form_post(
    page: Page, live_server: str, how: str
) -> None:
    _refuse_forms(page)
    page.goto(f"{live_server}/about")

    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        _accept(page, how)

    assert posted.value.status == 303, "the plain form POST"
    expect(page).to_have_url(f"{live_server}/about")
    expect(page.locator(BANNER)).to_have_count(0)
    page.wait_for_function("() => window.ckanCookieConsent !== undefined")  # its core script
    assert allowed(page, "media"), "the choice applies in the page it comes back to"


def test_customise_before_the_forms_script_arrives(page: Page, live_server: str) -> None:
    held = _hold_forms(page)
    page.goto(f"{live_server}/about")
    customise = page.locator(CUSTOMISE)
    media = page.locator(BANNER).get_by_role("switch", name="Third-party content")

    customise.click()  # a link to the switches, shown by CSS :target

    expect(media).to_be_visible()
    assert customise.get_attribute("aria-expanded") is None
    _asked_for(page, held).continue_()
    # Once the script is there: a disclosure button, open, the first switch focused.
    expect(customise).to_have_attribute("role", "button")
    expect(customise).to_have_attribute("aria-expanded", "true")
    expect(page.locator(BANNER).get_by_role("switch", name="Audience measurement")).to_be_focused()

    customise.click()  # and it closes, though the page's :target is still the panel

    expect(customise).to_have_attribute("aria-expanded", "false")
    expect(media).to_be_hidden()
    customise.click()
    expect(media).to_be_visible()


def test_space_on_customise_before_the_forms_script_arrives_waits_for_it(
    page: Page, live_server: str
) -> None:
    held = _hold_forms(page)
    page.goto(f"{live_server}/about")
    customise = page.locator(CUSTOMISE)
    media = page.locator(BANNER).get_by_role("switch", name="Third-party content")

    customise.focus()
    page.keyboard.press("Space")

    expect(media).to_be_hidden()
    assert page.evaluate("() => scrollY") == 0, "Space scrolled the page"
    _asked_for(page, held).continue_()
    expect(customise).to_have_attribute("aria-expanded", "true")
    expect(page.locator(BANNER).get_by_role("switch", name="Audience measurement")).to_be_focused()


def test_without_the_forms_script_customise_still_opens_the_switches(
    page: Page, live_server: str
) -> None:
    _refuse_forms(page)
    page.goto(f"{live_server}/about")
    media = page.locator(BANNER).get_by_role("switch", name="Third-party content")

    page.locator(CUSTOMISE).focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server}/about#cookieconsent-preferences")
    expect(media).to_be_visible()
    media.check()
    with page.expect_response(f"{live_server}/cookies/consent") as posted:
        page.locator(BANNER).get_by_role("button", name="Save my choices").click()
    assert posted.value.status == 303
    expect(page.locator(BANNER)).to_have_count(0)
    page.wait_for_function("() => window.ckanCookieConsent !== undefined")
    assert allowed(page, "media")


def test_the_footer_link_opens_the_banner_s_switches_before_the_forms_script(
    new_page: Callable[..., Page], live_server: str
) -> None:
    """The preferences are the banner's, in view, as with the forms' script there."""
    page = new_page(viewport={"width": 1280, "height": 2400})
    page.goto(f"{live_server}/about")
    expect(page.locator(BANNER)).to_be_in_viewport()

    page.locator("footer [data-cookieconsent-open]").click()

    expect(page.locator(CUSTOMISE)).to_have_attribute("aria-expanded", "true")
    expect(page.locator(BANNER).get_by_role("switch", name="Audience measurement")).to_be_focused()
    expect(page.locator("dialog.cookieconsent-dialog")).to_have_count(0)
