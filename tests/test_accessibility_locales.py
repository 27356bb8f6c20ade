"""Accessibility in every script and direction, in chromium: for a sample of CKAN's languages
(Latin, Arabic right to left, Japanese, Cyrillic, Greek) the page says its language and
direction, the banner's buttons are in that language, axe-core's WCAG 2.2 A/AA rules pass on
the banner with its preferences open, and a visitor with the keyboard alone customises and
saves, the focus visible at every stop. One page state and one walk per language: the rules
and walks themselves are in test_accessibility.py and test_keyboard.py (English, French).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import DEMO_MARKS
from playwright.sync_api import expect
from test_accessibility import _axe, _readable
from test_keyboard import Visitor

if TYPE_CHECKING:
    from playwright.sync_api import Page

I18N = Path(__file__).resolve().parent.parent / "ckanext" / "cookieconsent" / "i18n"
SAMPLE = {"de": "ltr", "ar": "rtl", "ja": "ltr", "ru": "ltr", "el": "ltr"}
BANNER = "#cookieconsent-banner"
# The banner's choices and their English labels, which no other language keeps.
BUTTONS = {
    "button[value=accept_all]": "Accept all",
    "button[value=refuse_all]": "Reject all",
    "[data-cookieconsent-customise]": "Customise",
}

pytestmark = [
    *DEMO_MARKS,
    pytest.mark.ckan_config("ckan.locales_offered", "en " + " ".join(SAMPLE)),
]


def _visit(new_page: Callable[..., Page], live_server: str, lang: str) -> Page:
    page = new_page(locale=lang, viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server}/{lang}/about")
    expect(page.locator(BANNER)).to_be_visible()
    return page


def _labels_are_translated(page: Page, lang: str) -> None:
    english = {
        selector: label
        for selector, label in BUTTONS.items()
        if page.locator(f"{BANNER} {selector}").inner_text().strip() == label
    }
    assert english == {}, f"still in English in {lang}: {english}"


@pytest.mark.parametrize("lang", list(SAMPLE))
def test_banner_says_its_language_and_passes_axe(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = _visit(new_page, live_server, lang)
    page.locator(f"{BANNER} [data-cookieconsent-customise]").click()
    expect(page.locator(f"{BANNER} .cookieconsent-preferences")).to_be_visible()

    assert page.evaluate("() => [document.documentElement.lang, document.dir || 'ltr']") == [
        lang,
        SAMPLE[lang],
    ]
    violations = _axe(page, {"include": [BANNER]})
    assert violations == [], _readable(violations)


# Skipped while the language's catalogue is missing (translations are imported separately).
@pytest.mark.parametrize("lang", list(SAMPLE))
def test_banner_buttons_are_in_the_language(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = _visit(new_page, live_server, lang)

    _labels_are_translated(page, lang)


def _tab_to(visitor: Visitor, selector: str, limit: int = 25) -> None:
    """Tab until the element matching `selector` has the focus (whatever its label says)."""
    for _ in range(limit):
        visitor.press("Tab")
        if visitor.page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached in {limit} Tabs: {visitor.places()}")


@pytest.mark.parametrize("lang", list(SAMPLE))
def test_customise_and_save_with_the_keyboard(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = _visit(new_page, live_server, lang)
    visitor = Visitor(page)

    _tab_to(visitor, f"{BANNER} [data-cookieconsent-customise]")
    visitor.press("Enter")
    switch = page.locator(f"{BANNER} input.cookieconsent-switch:not(:disabled)").first
    expect(switch).to_be_focused()
    visitor.press("Space")
    expect(switch).to_be_checked()
    _tab_to(visitor, f"{BANNER} button[value=save]")
    visitor.press("Enter")
    expect(page.locator(BANNER)).to_be_hidden()
    expect(page.locator("#content")).to_be_focused()
    visitor.note("the banner closed")

    category = switch.get_attribute("data-cookieconsent-category")
    assert category and page.evaluate("(id) => window.ckanCookieConsent.allowed(id)", category)
    hidden = [f"after {key}: {focus['place']}: {focus['name']!r}" for key, focus in visitor.stops
              if not focus["visible"]]  # fmt: skip
    assert hidden == [], "no focus indicator:\n" + "\n".join(hidden)
