"""The date the script writes after a choice made on the policy page (no reload), in
chromium: in the page's language (its `lang`, a BCP 47 tag), as the server writes it after a
reload (Babel's long date, Western digits, CKAN's display time zone)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_time
from helpers import EXAMPLE_MARKS, PREFERENCES
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.browser,
    *EXAMPLE_MARKS,
    pytest.mark.ckan_config("ckan.locales_offered", "en fr de pt_BR ar"),
]


def _made_on(page: Page) -> datetime.date:
    value = next(c.get("value", "") for c in page.context.cookies() if c.get("name") == PREFERENCES)
    made_at = int(value.split(":")[2])
    return datetime.datetime.fromtimestamp(made_at, tz=datetime.timezone.utc).date()


@pytest.mark.parametrize("lang", ["de", "pt_BR", "ar", "fr"])
def test_the_date_written_after_a_choice_is_in_the_page_language(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = new_page(locale=lang.replace("_", "-"))
    page.goto(f"{live_server}/{lang}/cookies")
    summary = page.locator("[data-cookieconsent-summary]")
    before = summary.inner_text()

    page.locator("#cookieconsent-policy-accept-all").click()

    expect(summary).not_to_have_text(before)
    day = format_date(_made_on(page), "long", locale=lang)  # "1. Dezember 2026"
    expect(summary).to_contain_text(day)
    page.reload()
    expect(summary).to_contain_text(day)  # the server's, after a reload


@pytest.mark.ckan_config("ckan.display_timezone", "Asia/Tokyo")
def test_the_date_written_after_a_choice_is_in_the_display_time_zone(
    new_page: Callable[..., Page], live_server: str
) -> None:
    page = new_page(timezone_id="Europe/Paris")  # the visitor's own zone does not count
    page.goto(f"{live_server}/cookies")
    summary = page.locator("[data-cookieconsent-summary]")
    before = summary.inner_text()

    page.locator("#cookieconsent-policy-accept-all").click()

    expect(summary).not_to_have_text(before)
    value = next(c.get("value", "") for c in page.context.cookies() if c.get("name") == PREFERENCES)
    moment = datetime.datetime.fromtimestamp(int(value.split(":")[2]), tz=datetime.timezone.utc)
    time = format_time(moment, "medium", tzinfo=ZoneInfo("Asia/Tokyo"), locale="en")
    expect(summary).to_contain_text(time)  # "8:45:12 PM", not "11:45:12 AM" (UTC)
    page.reload()
    expect(summary).to_contain_text(time)
