"""The two hooks of the page that the script wires, in chromium:

- `data-cookieconsent-open` (the footer's "Cookies" link) opens the preferences in place:
  the banner's when it is in view, else the policy page's choice in a dialog; without
  JavaScript, or with nothing to choose, it stays a link to /cookies.
- `data-cookieconsent-summary` (the policy page) follows a choice saved with JavaScript, and
  so does the wording of the refusal button ("Withdraw my consent" only while something
  optional is allowed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from helpers import EXAMPLE, PLUGIN_MARKS
from page_probes import BANNER, DIALOG, allowed, mark_document, marker
from page_probes import choose_in_banner as _choose_in_banner
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

COOKIE = "cookies_preferences"

pytestmark = [pytest.mark.browser, *PLUGIN_MARKS]
with_choices = pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)


def _footer_link(page: Page) -> Locator:
    return page.locator("footer a[data-cookieconsent-open]")


def _consent_id(page: Page) -> str:
    value = next(c.get("value", "") for c in page.context.cookies() if c.get("name") == COOKIE)
    return value.split(":")[3]


# --- The footer link ---------------------------------------------------------------------------


@with_choices
def test_footer_link_opens_the_choice_in_a_dialog_in_place(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    _choose_in_banner(page, "refuse_all")
    mark_document(page)
    link = _footer_link(page)

    link.click()

    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(page).to_have_url(f"{live_server}/about")
    assert marker(page) == 1, "the page was left"
    assert page.evaluate(f"() => document.querySelector('{DIALOG}').matches(':modal')")
    media = dialog.get_by_role("switch", name="Third-party content")
    expect(media).not_to_be_checked()  # the choice made in this page
    expect(dialog.get_by_role("switch", name="Audience measurement")).to_be_focused()

    media.check()
    dialog.get_by_role("button", name="Save my choices").click()

    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()  # back where the visitor was
    assert allowed(page, "media") and not allowed(page, "statistics")
    assert marker(page) == 1, "the page reloaded"


@with_choices
def test_the_dialog_closes_with_escape_and_its_close_button(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    _choose_in_banner(page, "accept_all")
    link = _footer_link(page)

    link.click()
    expect(page.locator(DIALOG)).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(DIALOG)).to_be_hidden()
    expect(link).to_be_focused()

    link.click()  # the second time from the same dialog, without fetching the page again
    expect(page.locator(DIALOG)).to_be_visible()
    page.locator(DIALOG).get_by_role("button", name="Close").click()
    expect(page.locator(DIALOG)).to_be_hidden()
    assert page.locator(DIALOG).count() == 1
    assert allowed(page, "media")  # closing changed nothing


@with_choices
@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
def test_footer_link_opens_the_bottom_banner_s_preferences(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/about")
    customise = page.locator(f"{BANNER} [data-cookieconsent-customise]")
    expect(customise).to_have_attribute("aria-expanded", "false")

    _footer_link(page).click()

    expect(customise).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"{BANNER} .cookieconsent-preferences")).to_be_visible()
    expect(page.locator(DIALOG)).to_have_count(0)
    expect(page).to_have_url(f"{live_server}/about")


@with_choices
def test_footer_link_on_the_policy_page_goes_to_its_form(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/cookies")

    _footer_link(page).click()

    expect(page.locator("#cookieconsent-choice").get_by_role("switch").nth(1)).to_be_focused()
    expect(page.locator(DIALOG)).to_have_count(0)


@with_choices
def test_footer_link_without_javascript_is_a_link(
    new_page: Callable[..., Page], live_server: str
) -> None:
    page = new_page(java_script_enabled=False)
    page.goto(f"{live_server}/about")

    _footer_link(page).click()

    expect(page).to_have_url(f"{live_server}/cookies")


def test_footer_link_of_a_stock_portal_leads_to_the_policy(page: Page, live_server: str) -> None:
    """Nothing to choose (the built-in catalogue only): the policy page itself."""
    page.goto(f"{live_server}/about")

    _footer_link(page).click()

    expect(page).to_have_url(f"{live_server}/cookies")
    expect(page.locator(".cookieconsent-policy")).to_be_visible()
    expect(page.locator(DIALOG)).to_have_count(0)


# --- The policy page's summary ------------------------------------------------------------------


@with_choices
def test_summary_and_refusal_button_follow_a_choice_saved_in_the_page(
    page: Page, live_server: str
) -> None:
    page.goto(f"{live_server}/cookies")
    summary = page.locator("[data-cookieconsent-summary]")
    refusal = page.locator("#cookieconsent-policy-reject-all")
    expect(summary).to_have_text(re.compile("You have not made a choice yet"))
    expect(refusal).to_have_text("Reject all")
    mark_document(page)

    page.locator("#cookieconsent-policy-accept-all").click()

    expect(page.locator("#cookieconsent-choice").get_by_role("status")).to_have_text(
        "Your choice has been saved."
    )
    expect(summary).to_have_text(re.compile(r"^You made your choice on .*\d{4}.*\."))
    expect(summary).to_contain_text(f"to quote if you contact us about it: {_consent_id(page)}.")
    expect(summary).not_to_contain_text("not made a choice")
    expect(refusal).to_have_text("Withdraw my consent")

    refusal.click()

    expect(refusal).to_have_text("Reject all")  # nothing left to withdraw
    expect(summary).to_contain_text(_consent_id(page))
    assert marker(page) == 1, "the page reloaded"


@with_choices
def test_summary_in_french(new_page: Callable[..., Page], live_server: str) -> None:
    page = new_page(locale="fr-FR")
    page.goto(f"{live_server}/fr/cookies")

    page.locator("#cookieconsent-policy-accept-all").click()

    summary = page.locator("[data-cookieconsent-summary]")
    expect(summary).to_have_text(re.compile(r"^Vous avez fait votre choix le .*\d{4}"))
    expect(page.locator("#cookieconsent-policy-reject-all")).to_have_text(
        "Retirer mon consentement"
    )
