"""Right-to-left languages, in chromium: CKAN writes `<html dir="rtl">` for the languages of
`ckan.i18n.rtl_languages` (ar, he, fa_IR by default, `h.is_rtl_language()` in base.html, in
2.11 and 2.12), and the extension's style sheet has only logical properties, so its boxes
mirror: the banner, the switches (an ON switch's knob sits on the left), the policy page's
table stacked on a phone, the embed placeholder, the footer's dialog. The dashboard's plot
stays left to right (time runs along x) and its labels stay inside it, apart.

Measured on the text itself (a Range over an element's contents), not on block boxes, which
span the whole width whatever the direction. Desktop (1280 px) and phone (375 px); axe-core
on the same pages (tests/test_accessibility.py's helper).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from ckan.tests import factories
from helpers import DEMO_MARKS
from page_probes import PAGE_WIDTHS, choose_in_banner, open_footer_dialog
from playwright.sync_api import expect
from test_accessibility import _axe, _readable

if TYPE_CHECKING:
    from playwright.sync_api import Page

RTL = ["ar", "he", "fa_IR"]
BANNER = "#cookieconsent-banner"
VIEWPORTS: dict[str, dict[str, Any]] = {
    "1280": {"viewport": {"width": 1280, "height": 800}},
    "375": {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True},
}

pytestmark = [
    *DEMO_MARKS,
    pytest.mark.ckan_config("ckan.locales_offered", "en fr ar he fa_IR"),
]

# The box of the text an element holds (its glyphs, not its block), and the content box of
# the element it is measured against.
TEXT_AND_FRAME = """([text, frame]) => {
    const range = document.createRange();
    range.selectNodeContents(document.querySelector(text));
    const glyphs = range.getBoundingClientRect();
    const outer = document.querySelector(frame);
    const box = outer.getBoundingClientRect();
    const style = getComputedStyle(outer);
    return {
        text: [glyphs.left, glyphs.right],
        frame: [box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth),
                box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth)],
    };
}"""

# Where a switch's knob (its ::before) is drawn, against the switch's own box: the used
# `left` of an absolutely positioned box is a length even when `inset-inline-start` set
# `right`, and its transform's translation moves it further.
KNOB = """(selector) => {
    const input = document.querySelector(selector);
    const box = input.getBoundingClientRect();
    const knob = getComputedStyle(input, "::before");
    const style = getComputedStyle(input);
    const shift = new DOMMatrixReadOnly(knob.transform === "none" ? undefined : knob.transform);
    const left = box.left + parseFloat(style.borderLeftWidth) + parseFloat(knob.left) + shift.e;
    return {knob: [left, left + parseFloat(knob.width)], switch: [box.left, box.right]};
}"""

# The boxes inside ours that stick out of it or of the window, on either side (but what
# scrolls inside a box of ours that scrolls sideways: a data table). Our root boxes are
# CKAN's to size (a `.module` in its column): the document's width covers them.
OUT_OF_WINDOW = """(selector) => Array.from(document.querySelectorAll(selector)).flatMap((root) => {
    const frame = root.getBoundingClientRect();
    const left = Math.max(0, frame.left) - 0.5;
    const right = Math.min(window.innerWidth, frame.right) + 0.5;
    return Array.from(root.querySelectorAll("*"))
        .filter((element) => element.getClientRects().length > 0
            && !element.closest("thead, caption, .visually-hidden, .sr-only")
            && !(element.parentElement && element.parentElement.closest(
                ".cookieconsent-chart-numbers__scroll")))
        .map((element) => [element, element.getBoundingClientRect()])
        .filter(([element, box]) => box.width > 0 && (box.left < left || box.right > right))
        .map(([element, box]) => `${element.tagName}.${element.className}: `
            + `${box.left}-${box.right} in ${left}-${right}`);
})"""


def _starts_on_the_right(page: Page, text: str, frame: str) -> None:
    """The text lies against the frame's right edge (the inline start in RTL), not its left."""
    found = page.evaluate(TEXT_AND_FRAME, [text, frame])
    (text_left, text_right), (frame_left, frame_right) = found["text"], found["frame"]
    assert frame_right - text_right <= 2, (
        f"{text} ends {frame_right - text_right} px before {frame}'s right edge: {found}"
    )
    assert text_left - frame_left >= frame_right - text_right, found


def _rtl_page(new_page: Callable[..., Page], lang: str, viewport: str) -> Page:
    return new_page(locale=lang.replace("_", "-"), **VIEWPORTS[viewport])


def _no_horizontal_overflow(page: Page, selector: str) -> None:
    with_ours, without_ours, window = page.evaluate(PAGE_WIDTHS, selector)
    assert with_ours <= max(window, without_ours), (
        f"{selector} makes the page {with_ours} px wide in a {window} px window"
        f" ({without_ours} px without it)"
    )
    assert page.evaluate(OUT_OF_WINDOW, selector) == []


@pytest.mark.parametrize("lang", RTL)
def test_ckan_writes_rtl_and_the_banner_starts_on_the_right(
    new_page: Callable[..., Page], live_server: str, lang: str
) -> None:
    page = _rtl_page(new_page, lang, "1280")
    page.goto(f"{live_server}/{lang}/about")
    expect(page.locator(BANNER)).to_be_visible()

    # CKAN writes a BCP 47 tag (h.unix_locale_to_bcp47): "fa-IR" for fa_IR.
    expected = [lang.replace("_", "-"), "rtl"]
    assert page.evaluate("() => [document.documentElement.lang, document.dir]") == expected
    _starts_on_the_right(page, f"{BANNER} .cookieconsent-banner__title", f"{BANNER} form")
    # The first of the actions (as the markup orders them) is the rightmost.
    lefts = page.locator(f"{BANNER} .cookieconsent-actions > *").evaluate_all(
        "(elements) => elements.map((element) => element.getBoundingClientRect().left)"
    )
    assert lefts == sorted(lefts, reverse=True), lefts


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_banner_and_switches_mirror_in_arabic(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    page = _rtl_page(new_page, "ar", viewport)
    page.goto(f"{live_server}/ar/about")
    page.locator(f"{BANNER} [data-cookieconsent-customise]").click()
    switch = f"{BANNER} input.cookieconsent-switch:not(:disabled)"  # the first one
    expect(page.locator(switch).first).to_be_visible()

    off = page.evaluate(KNOB, switch)
    page.locator(switch).first.check()
    page.evaluate("() => document.getAnimations().forEach((a) => a.finish())")
    on = page.evaluate(KNOB, switch)

    middle = sum(off["switch"]) / 2
    assert sum(off["knob"]) / 2 > middle, f"an OFF switch's knob sits on the right: {off}"
    assert sum(on["knob"]) / 2 < middle, f"an ON switch's knob sits on the left: {on}"
    assert on["switch"][0] <= on["knob"][0] and on["knob"][1] <= on["switch"][1], on
    # Switch first, then its title: the switch on the right of its category.
    category = page.locator(f"{BANNER} .cookieconsent-category").first
    title_right = category.locator(".cookieconsent-category__title").evaluate(
        "(element) => element.getBoundingClientRect().right"
    )
    assert page.evaluate(KNOB, f"{BANNER} .cookieconsent-switch")["switch"][0] > title_right
    _no_horizontal_overflow(page, BANNER)

    violations = _axe(page, {"include": [BANNER]})
    assert violations == [], _readable(violations)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_policy_page_mirrors_in_arabic(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    page = _rtl_page(new_page, "ar", viewport)
    page.goto(f"{live_server}/ar/cookies")
    expect(page.locator(".cookieconsent-policy")).to_be_visible()

    _starts_on_the_right(page, ".cookieconsent-policy h1", ".cookieconsent-policy h1")
    cell = ".cookieconsent-table tbody tr:first-child td:first-child"
    found = page.locator(cell).first.evaluate(
        """(td) => {
            const range = document.createRange();
            range.selectNodeContents(td);  // the value, without its ::before label
            const box = td.getBoundingClientRect();
            return {value: range.getBoundingClientRect().right, cell: [box.left, box.right]};
        }"""
    )
    if viewport == "375":  # stacked: the label (::before) at the right, the value after it
        assert found["value"] < found["cell"][1] - 0.25 * (found["cell"][1] - found["cell"][0])
    else:  # a column: its text from the right
        assert found["cell"][1] - found["value"] < 16, found
    _no_horizontal_overflow(page, ".cookieconsent-policy")

    violations = _axe(page, {"include": [".cookieconsent-policy"]})
    assert violations == [], _readable(violations)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_embed_placeholder_mirrors_in_arabic(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    page = _rtl_page(new_page, "ar", viewport)
    page.goto(f"{live_server}/ar/about")
    expect(page.locator(".cookieconsent-embed")).to_be_visible()

    _starts_on_the_right(page, ".cookieconsent-embed__body p", ".cookieconsent-embed__body")
    _no_horizontal_overflow(page, ".cookieconsent-embed")

    violations = _axe(page, {"include": [".cookieconsent-embed"]})
    assert violations == [], _readable(violations)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_footer_dialog_mirrors_in_arabic(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    page = _rtl_page(new_page, "ar", viewport)
    page.goto(f"{live_server}/ar/about")
    choose_in_banner(page, "refuse_all")
    dialog = open_footer_dialog(page)

    # "Close" floats to the inline end: the left.
    close, frame = dialog.evaluate(
        """(dialog) => [dialog.querySelector(".cookieconsent-dialog__close")
                            .getBoundingClientRect().left,
                        dialog.getBoundingClientRect().left
                            + parseFloat(getComputedStyle(dialog).paddingLeft)]"""
    )
    assert abs(close - frame) <= 1, (close, frame)
    _starts_on_the_right(page, ".cookieconsent-dialog h2", ".cookieconsent-dialog")

    violations = _axe(page, {"include": [".cookieconsent-dialog"]})
    assert violations == [], _readable(violations)


# The plot's labels: their boxes, the plot's box, and any two that overlap.
CHART_LABELS = """(svg) => {
    const plot = svg.getBoundingClientRect();
    const boxes = Array.from(svg.querySelectorAll("text"))
        .map((text) => [text.textContent, text.getBoundingClientRect()]);
    const outside = boxes.filter(([, box]) => box.left < plot.left - 0.5
        || box.right > plot.right + 0.5 || box.top < plot.top - 0.5
        || box.bottom > plot.bottom + 0.5).map(([label]) => label);
    const overlapping = [];
    boxes.forEach(([a, one], i) => boxes.slice(i + 1).forEach(([b, other]) => {
        if (one.left < other.right && other.left < one.right
            && one.top < other.bottom && other.top < one.bottom) {
            overlapping.push([a, b]);
        }
    }));
    return {count: boxes.length, outside, overlapping};
}"""


@pytest.mark.usefixtures("with_plugins", "consent_tables")
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_dashboard_chart_labels_stay_inside_and_apart_in_arabic(
    new_page: Callable[..., Page], live_server: str, viewport: str
) -> None:
    visitor = _rtl_page(new_page, "ar", viewport)
    visitor.goto(f"{live_server}/ar/about")
    visitor.locator(f"{BANNER} button[value=accept_all]").click()
    expect(visitor.locator(BANNER)).to_be_hidden()
    token = factories.SysadminWithToken()["token"]
    admin = new_page(
        locale="ar", extra_http_headers={"Authorization": token}, **VIEWPORTS[viewport]
    )

    response = admin.goto(f"{live_server}/ar/ckan-admin/cookies")

    assert response is not None and response.status == 200
    plot = admin.locator(".cookieconsent-chart__plot")
    expect(plot).to_be_visible()
    labels = plot.evaluate(CHART_LABELS)
    assert labels["count"] >= 3, labels  # 100 %, 0 % and the day
    assert labels["outside"] == [] and labels["overlapping"] == [], labels
    _no_horizontal_overflow(admin, ".cookieconsent-chart, .cookieconsent-chart-numbers__scroll")
    violations = _axe(admin, {"include": [".cookieconsent-chart-numbers__scroll"]})
    assert violations == [], _readable(violations)
