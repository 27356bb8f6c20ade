"""Layout on a phone and on a desktop, in chromium: the policy page's tables, the banner at
the bottom of the window, the room the page keeps for it.

At 320 and 375 px CKAN's own page is 6 px wider than the window, with or without this
extension: CKAN narrows `.container`'s padding to 6 px on small screens while Bootstrap's
`.row` keeps its -12 px margins (the content's `.row.wrapper` and the footer's `.row`). So
"no horizontal overflow" is measured as: the document is no wider than the window, or than
CKAN's page with our elements taken out; and none of our boxes sticks out of the column it
lies in, nor scrolls sideways inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from helpers import EXAMPLE_MARKS
from page_probes import PAGE_WIDTHS
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONES = {"320": {"width": 320, "height": 640}, "375": {"width": 375, "height": 667}}
PHONE_375 = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
BANNER = "#cookieconsent-banner"
POLICY = ".cookieconsent-policy"

pytestmark = [pytest.mark.browser, *EXAMPLE_MARKS]

# Our visible boxes that stick out of `root`'s content box (or of the window), and those
# that scroll sideways. The visually hidden caption and column headers are left out: they
# are 1 px boxes that clip what they hold.
STICKING_OUT = """(root) => {
    const container = document.querySelector(root);
    const style = getComputedStyle(container);
    const outer = container.getBoundingClientRect();
    const right = Math.min(window.innerWidth,
                           outer.right - parseFloat(style.paddingRight)) + 0.5;
    const left = Math.max(0, outer.left + parseFloat(style.paddingLeft)) - 0.5;
    return Array.from(container.querySelectorAll("*"))
        .filter((element) => !element.closest("thead, caption, .visually-hidden, .sr-only"))
        .filter((element) => element.getClientRects().length > 0)
        .map((element) => [element, element.getBoundingClientRect()])
        .filter(([element, box]) => box.width > 0 && (box.left < left || box.right > right
            || (element.scrollWidth > element.clientWidth + 1
                && getComputedStyle(element).overflowX !== "visible")))
        .map(([element, box]) => `${element.tagName}.${element.className} `
            + `${element.textContent.trim().slice(0, 30)}: ${box.left}-${box.right}`
            + ` (scroll ${element.scrollWidth} / client ${element.clientWidth})`);
}"""


def _no_overflow(page: Page, selector: str, root: str) -> None:
    with_ours, without_ours, window = page.evaluate(PAGE_WIDTHS, selector)
    assert with_ours <= max(window, without_ours), (
        f"{selector} makes the page {with_ours} px wide in a {window} px window"
        f" ({without_ours} px without it)"
    )
    assert page.evaluate(STICKING_OUT, root) == []


# --- The policy page on a phone ------------------------------------------------------------

# Each body cell, with what its ::before shows and the header of its column.
CELL_LABELS = """() => Array.from(document.querySelectorAll(".cookieconsent-table")).flatMap(
    (table) => {
        const headers = Array.from(table.querySelectorAll("thead th"))
            .map((th) => th.textContent.trim());
        return Array.from(table.querySelectorAll("tbody td")).map((td) => ({
            header: headers[td.cellIndex],
            shown: getComputedStyle(td, "::before").content,
            display: getComputedStyle(td).display,
        }));
    })"""


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("viewport", list(PHONES))
def test_policy_page_fits_a_phone(
    new_page: Callable[..., Page], live_server: str, viewport: str, lang: str
) -> None:
    page = new_page(viewport=PHONES[viewport], locale="fr-FR" if lang == "fr" else "en-GB")
    page.goto(f"{live_server}{'/fr' if lang == 'fr' else ''}/cookies")
    expect(page.locator(POLICY)).to_be_visible()

    _no_overflow(page, f"{POLICY} .module-content > *", f"{POLICY} .module-content")


@pytest.mark.parametrize("viewport", list(PHONES))
def test_policy_tables_stack_with_each_cell_labelled(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    page = new_page(viewport=PHONES[viewport])
    page.goto(f"{live_server}/cookies")

    cells: list[dict[str, Any]] = page.evaluate(CELL_LABELS)

    assert cells and len(cells) % 6 == 0  # six columns
    unlabelled = [
        c for c in cells if c["shown"] not in (f'"{c["header"]}" / ""', f'"{c["header"]}"')
    ]
    assert unlabelled == []
    assert {c["display"] for c in cells} == {"grid"}  # a label beside each value, not a column


def test_a_long_cookie_name_wraps_instead_of_being_cut(
    new_page: Callable[..., Page], live_server: str
) -> None:
    page = new_page(viewport=PHONES["320"])
    page.goto(f"{live_server}/cookies")
    name = page.locator(".cookieconsent-table code", has_text="cookies_preferences")

    box = name.evaluate(
        """(code) => ({height: code.getBoundingClientRect().height,
                       line: parseFloat(getComputedStyle(code).lineHeight) || 20,
                       cut: code.scrollWidth > code.parentElement.clientWidth + 1})"""
    )

    assert not box["cut"]
    assert box["height"] > box["line"] * 1.5, "19 characters fit in a 320 px cell: no wrap tested"


def test_policy_tables_stay_tables_on_a_desktop(
    new_page: Callable[..., Page], live_server: str
) -> None:
    page = new_page(viewport=DESKTOP)
    page.goto(f"{live_server}/cookies")

    displays = page.evaluate(CELL_LABELS)

    assert {c["display"] for c in displays} == {"table-cell"}
    assert {c["shown"] for c in displays} == {"none"}
    _no_overflow(page, f"{POLICY} .module-content > *", f"{POLICY} .module-content")


# --- The banner at the bottom of the window -------------------------------------------------

BANNER_BOX = """(selector) => {
    const banner = document.querySelector(selector);
    const text = banner.querySelector(".cookieconsent-banner__text");
    return {
        height: banner.getBoundingClientRect().height,
        textCut: text.scrollHeight > text.clientHeight + 1,
        reserved: parseFloat(getComputedStyle(document.body).paddingBottom),
        window: window.innerHeight,
    };
}"""


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
@pytest.mark.parametrize("customise", [False, True], ids=["closed", "preferences"])
@pytest.mark.parametrize("viewport", list(PHONES))
def test_bottom_banner_adds_no_horizontal_overflow(
    new_page: Callable[..., Page], live_server: str, viewport: str, customise: bool
) -> None:
    page = new_page(viewport=PHONES[viewport])
    page.goto(f"{live_server}/about")
    expect(page.locator(BANNER)).to_be_visible()
    if customise:
        page.locator(f"{BANNER} [data-cookieconsent-customise]").click()
        expect(page.locator(f"{BANNER} .cookieconsent-preferences")).to_be_visible()

    _no_overflow(page, BANNER, BANNER)


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_bottom_banner_covers_at_most_a_third_of_a_phone(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = new_page(viewport=PHONE_375, locale="fr-FR" if lang == "fr" else "en-GB")
    page.goto(f"{live_server}{'/fr' if lang == 'fr' else ''}/about")
    expect(page.locator(BANNER)).to_be_visible()

    box = page.evaluate(BANNER_BOX, BANNER)

    assert box["height"] <= 667 / 3, box
    # Compact by its layout, not by hiding its text behind a scroll.
    assert not box["textCut"], box
    # The three actions side by side, the same size.
    sizes = page.locator(f"{BANNER} .cookieconsent-actions > *").evaluate_all(
        """(buttons) => buttons.map((button) => button.getBoundingClientRect())
            .map((box) => [Math.round(box.top), Math.round(box.width), Math.round(box.height)])"""
    )
    assert len(sizes) == 3 and len({tuple(size) for size in sizes}) == 1, sizes


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
def test_bottom_banner_preferences_open_in_a_scrolling_panel(
    new_page: Callable[..., Page], live_server: str
) -> None:
    page = new_page(viewport=PHONE_375)
    page.goto(f"{live_server}/about")
    page.locator(f"{BANNER} [data-cookieconsent-customise]").click()
    panel = page.locator(f"{BANNER} .cookieconsent-preferences")
    expect(panel).to_be_visible()

    state = panel.evaluate(
        """(panel) => ({scrolls: panel.scrollHeight > panel.clientHeight,
                        overflow: getComputedStyle(panel).overflowY,
                        banner: panel.closest("section").getBoundingClientRect().height})"""
    )

    assert state["scrolls"] and state["overflow"] == "auto", state
    assert state["banner"] <= 667 * 0.6 + 1, state
    # The actions stay in view; the save button is reached by scrolling the panel.
    expect(page.locator(f"{BANNER} .cookieconsent-actions")).to_be_in_viewport()
    save = panel.get_by_role("button", name="Save my choices")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_375], ids=["desktop", "phone"])
def test_page_keeps_room_for_the_banner_s_real_height(
    new_page: Callable[..., Page], live_server: str, viewport: dict[str, int]
) -> None:
    """The page's end stays reachable above the banner, and no more room is taken than
    the banner covers (it was 60 % of the window: 480 px for a 183 px banner)."""
    page = new_page(viewport=viewport)
    page.goto(f"{live_server}/about")
    expect(page.locator(BANNER)).to_be_visible()

    box = page.evaluate(BANNER_BOX, BANNER)

    assert box["height"] <= box["reserved"] <= box["height"] + 1, box

    # It follows the banner's size: preferences open, then the banner gone.
    page.locator(f"{BANNER} [data-cookieconsent-customise]").click()
    page.wait_for_function(
        """(selector) => Math.abs(parseFloat(getComputedStyle(document.body).paddingBottom)
            - document.querySelector(selector).getBoundingClientRect().height) <= 1""",
        arg=BANNER,
    )
    page.locator(f"{BANNER} button[value=accept_all]").click()
    expect(page.locator(BANNER)).to_be_hidden()
    assert page.evaluate("() => getComputedStyle(document.body).paddingBottom") == "0px"
