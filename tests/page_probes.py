"""Small probes of a page in the browser, shared by the browser tests (what the other
tests share too is in helpers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

BANNER = "#cookieconsent-banner"
DIALOG = "dialog.cookieconsent-dialog"
# [the document's width, its width with `selector` taken out, the window's width]
PAGE_WIDTHS = """(selector) => {
    const ours = Array.from(document.querySelectorAll(selector));
    const withOurs = document.documentElement.scrollWidth;
    ours.forEach((element) => { element.style.display = "none"; });
    const withoutOurs = document.documentElement.scrollWidth;
    ours.forEach((element) => { element.style.display = ""; });
    return [withOurs, withoutOurs, window.innerWidth];
}"""
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def leaves_loopback(url: str) -> bool:
    """Whether a request for `url` would leave this machine."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK


def keep_on_loopback(page: Page) -> None:
    """Abort every request of `page`'s context (frames included) that would leave this
    machine. A route registered later takes precedence, e.g. one that answers locally."""

    def abort(route: Route) -> None:
        route.abort()

    page.context.route(leaves_loopback, abort)


def mark_document(page: Page) -> None:
    """Leave a mark in the current document; a reload or a navigation loses it."""
    page.evaluate("() => { window.__marker = 1; }")


def marker(page: Page) -> Any:
    return page.evaluate("() => window.__marker")


def allowed(page: Page, category: str) -> bool:
    return page.evaluate("(id) => window.ckanCookieConsent.allowed(id)", category) is True


def choose_in_banner(page: Page, action: str) -> None:
    """Click the banner's button of `action` (accept_all, refuse_all, save); it closes."""
    page.locator(f"{BANNER} button[value={action}]").click()
    expect(page.locator(BANNER)).to_be_hidden()


def open_footer_dialog(page: Page) -> Locator:
    """After a choice, the footer's "Cookies" link opens the choice in a dialog."""
    page.locator("footer [data-cookieconsent-open]").click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def forms_script_loaded(page: Page) -> None:
    """A pointer over the banner: the sign of intent on which the core script loads the
    forms' script (until then "Customise" is a link); wait until it has enhanced them."""
    page.locator(f"{BANNER} .cookieconsent-banner__title").hover()
    expect(page.locator(f"{BANNER} [data-cookieconsent-customise]")).to_have_attribute(
        "role", "button"
    )
