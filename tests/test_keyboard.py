"""The banner with the keyboard alone, in chromium: Tab, Shift+Tab, Enter and Space.

A visitor who uses no mouse can refuse, accept, customise (open the switches with Enter or
Space, turn one on with Space, save with Enter), follow the link to the policy page, and is
never trapped in the banner. At every stop, the focused element shows a focus indicator: an
outline (style not "none", width above 0) or a box shadow. With the banner fixed at the
bottom of the window, no focused element hides under it (WCAG 2.4.11).

Each flow is written once (FLOWS): some tests check what it achieves, and
test_focus_is_visible_at_every_stop checks the focus indicator at each of its stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

import pytest
from helpers import DEMO_MARKS
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

COOKIE = "cookies_preferences"

# The demo: two categories to ask about, neither exempt (every switch starts off), and a
# gated frame on /about.
pytestmark = DEMO_MARKS


class Focus(TypedDict):
    """Where the focus is and how it shows; None for the document itself (body)."""

    name: str
    place: str  # "skip link", "banner", "header", "policy", "embed", "content" or a tag name
    outline: str
    box_shadow: str
    visible: bool


FOCUS = """() => {
    const element = document.activeElement;
    if (!element || element === document.body || element === document.documentElement) {
        return null;
    }
    const style = getComputedStyle(element);
    const banner = document.getElementById("cookieconsent-banner");
    const label = element.labels && element.labels.length ? element.labels[0] : element;
    let place = element.tagName.toLowerCase();
    if (element.matches("a[href='#content']")) {
        place = "skip link";
    } else if (banner && banner.contains(element)) {
        place = "banner";
    } else if (element.closest(".account-masthead, header.masthead")) {
        place = "header";
    } else if (element.closest(".cookieconsent-policy")) {
        place = "policy";
    } else if (element.closest(".cookieconsent-embed")) {
        place = "embed";
    } else if (element.id === "content") {
        place = "content";
    }
    return {
        name: (label.innerText || "").trim().split("\\n")[0].trim(),
        place: place,
        outline: `${style.outlineStyle} ${style.outlineWidth}`,
        box_shadow: style.boxShadow,
        visible: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
            || style.boxShadow !== "none",
    };
}"""


@dataclass
class Visitor:
    """Drives the page with the keyboard and notes where the focus lands after each key."""

    page: Page
    stops: list[tuple[str, Focus]] = field(default_factory=list)

    def press(self, key: str) -> Focus | None:
        self.page.keyboard.press(key)
        return self.note(key)

    def note(self, after: str) -> Focus | None:
        focus: Focus | None = self.page.evaluate(FOCUS)
        if focus is not None:
            self.stops.append((after, focus))
        return focus

    def tab_to(self, name: str, limit: int = 25) -> None:
        """Tab until the control named `name` has the focus, as a visitor would."""
        for _ in range(limit):
            focus = self.press("Tab")
            if focus is not None and focus["name"] == name:
                return
        raise AssertionError(f"{name!r} not reached in {limit} Tabs: {self.places()}")

    def places(self) -> list[str]:
        return [f"{focus['place']}: {focus['name']}" for _, focus in self.stops]


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _switch(page: Page, title: str) -> Locator:
    return _banner(page).get_by_role("switch", name=title)


def _granted(context: BrowserContext) -> set[str] | None:
    """The categories the preferences cookie grants (its 5th field); None without a cookie."""
    values = [c.get("value", "") for c in context.cookies() if c.get("name") == COOKIE]
    if not values:
        return None
    granted = values[0].split(":")[4]
    return set(granted.split("/")) if granted else set()


@pytest.fixture
def visitor(page: Page, live_server: str) -> Visitor:
    """A first visit to /about: the banner shows, nothing has the focus yet."""
    page.goto(f"{live_server}/about")
    expect(_banner(page)).to_be_visible()
    return Visitor(page)


# --- The flows -------------------------------------------------------------------------------


def _choose(visitor: Visitor, button: str) -> None:
    visitor.tab_to(button)
    visitor.press("Enter")
    expect(_banner(visitor.page)).to_be_hidden()
    expect(visitor.page.locator("#content")).to_be_focused()
    visitor.note("the banner closed")


def refuse_all(visitor: Visitor) -> None:
    _choose(visitor, "Reject all")


def accept_all(visitor: Visitor) -> None:
    _choose(visitor, "Accept all")


def _customise(visitor: Visitor, open_key: str) -> None:
    page = visitor.page
    visitor.tab_to("Customise")
    visitor.press(open_key)
    statistics = _switch(page, "Audience measurement")
    expect(statistics).to_be_focused()
    visitor.press("Space")
    expect(statistics).to_be_checked()
    visitor.tab_to("Save my choices")
    visitor.press("Enter")
    expect(_banner(page)).to_be_hidden()
    expect(page.locator("#content")).to_be_focused()
    visitor.note("the banner closed")


def customise_with_enter(visitor: Visitor) -> None:
    _customise(visitor, "Enter")


def customise_with_space(visitor: Visitor) -> None:
    _customise(visitor, "Space")


def follow_policy_link(visitor: Visitor) -> None:
    page = visitor.page
    policy = page.url.rsplit("/", 1)[0] + "/cookies"
    visitor.tab_to("Read the cookie policy")
    page.keyboard.press("Enter")  # leaves the page: no focus to note
    expect(page).to_have_url(policy)


def allow_embed_once(visitor: Visitor) -> None:
    """From the placeholder, the frame loads and takes the focus."""
    visitor.tab_to("Allow this once", limit=40)
    visitor.page.keyboard.press("Enter")
    # The frame is the active element at once, but matches :focus (and shows it) only once
    # its document exists, a moment later.
    expect(visitor.page.locator("iframe.cookieconsent-frame:focus")).to_have_count(1)
    visitor.note("the frame took the focus")


def through_the_policy_page(visitor: Visitor) -> None:
    """Every control of the policy page's content: switches, buttons, scrolling tables."""
    page = visitor.page
    page.goto(page.url.rsplit("/", 1)[0] + "/cookies")
    entered = False
    for _ in range(60):
        focus = visitor.press("Tab")
        inside = focus is not None and focus["place"] == "policy"
        if entered and not inside:
            return
        entered = entered or inside
    raise AssertionError(f"not through the policy page in 60 Tabs: {visitor.places()}")


def through_the_banner(visitor: Visitor) -> None:
    """Every control of the banner, switches included, then out into the page and back."""
    visitor.tab_to("Customise")
    visitor.press("Enter")
    expect(_switch(visitor.page, "Audience measurement")).to_be_focused()
    visitor.tab_to("Save my choices")
    visitor.press("Tab")
    for _ in range(6):
        visitor.press("Shift+Tab")


FLOWS: dict[str, Callable[[Visitor], None]] = {
    "refuse-all": refuse_all,
    "accept-all": accept_all,
    "customise-enter": customise_with_enter,
    "customise-space": customise_with_space,
    "policy-link": follow_policy_link,
    "allow-embed-once": allow_embed_once,
    "through-the-banner": through_the_banner,
    "through-the-policy-page": through_the_policy_page,
}


# --- What the flows achieve ------------------------------------------------------------------


def test_first_tab_reaches_the_skip_link_and_the_second_the_banner(visitor: Visitor) -> None:
    places = [visitor.press("Tab"), visitor.press("Tab")]

    assert [focus and focus["place"] for focus in places] == ["skip link", "banner"]


def test_shift_tab_goes_back_from_the_banner_to_the_skip_link(visitor: Visitor) -> None:
    visitor.press("Tab")
    visitor.press("Tab")

    focus = visitor.press("Shift+Tab")

    assert focus is not None and focus["place"] == "skip link", visitor.places()


@pytest.mark.parametrize(
    ("flow", "granted"),
    [(refuse_all, set()), (accept_all, {"statistics", "media"})],
    ids=["refuse-all", "accept-all"],
)
def test_one_click_choice_with_the_keyboard(
    visitor: Visitor, flow: Callable[[Visitor], None], granted: set[str]
) -> None:
    flow(visitor)

    assert _granted(visitor.page.context) == granted


@pytest.mark.parametrize("flow", [accept_all, refuse_all], ids=["accept-all", "refuse-all"])
def test_choice_keeps_the_page_where_it_was(
    visitor: Visitor, flow: Callable[[Visitor], None]
) -> None:
    """After a choice in the banner the focus goes to the page's content (the skip link's
    target) without scrolling to it: the masthead stays in view (it jumped 138 px)."""
    page = visitor.page
    before = page.evaluate("() => window.scrollY")

    flow(visitor)

    assert page.evaluate("() => window.scrollY") == before
    assert page.evaluate("() => document.activeElement !== document.body")
    expect(page.locator("header.masthead, .account-masthead").first).to_be_in_viewport()


def test_policy_page_offers_the_choice_once_first_after_the_intro(
    page: Page, live_server: str
) -> None:
    """No banner on /cookies: past the skip link and the breadcrumb, the first stop in the
    page's content is the first switch of its own form."""
    page.goto(f"{live_server}/cookies")
    expect(page.locator(".cookieconsent-policy")).to_be_visible()
    expect(_banner(page)).to_have_count(0)
    visitor = Visitor(page)

    skip = visitor.press("Tab")
    assert skip is not None and skip["place"] == "skip link", visitor.places()
    visitor.press("Enter")
    for _ in range(10):
        focus = visitor.press("Tab")
        if focus is not None and focus["place"] == "policy":
            break
    else:
        raise AssertionError(f"the policy page's form not reached: {visitor.places()}")

    assert focus["name"] == "Audience measurement", visitor.places()
    assert [stop["place"] for _, stop in visitor.stops].count("banner") == 0


@pytest.mark.parametrize(
    "flow", [customise_with_enter, customise_with_space], ids=["enter", "space"]
)
def test_customise_with_the_keyboard(visitor: Visitor, flow: Callable[[Visitor], None]) -> None:
    flow(visitor)

    # Only the switch turned on with Space.
    assert _granted(visitor.page.context) == {"statistics"}


def test_policy_link_followed_with_enter(visitor: Visitor) -> None:
    follow_policy_link(visitor)

    expect(visitor.page.locator(".cookieconsent-policy h1")).to_have_text("Cookie policy")


def test_embed_allowed_once_with_the_keyboard(visitor: Visitor) -> None:
    allow_embed_once(visitor)

    expect(
        visitor.page.frame_locator("iframe.cookieconsent-frame").locator("body")
    ).to_contain_text("Embedded third-party content loaded")


@pytest.mark.parametrize("customise", [False, True], ids=["closed", "preferences"])
def test_tab_leaves_the_banner_into_the_page(visitor: Visitor, customise: bool) -> None:
    last = "Customise"
    if customise:
        visitor.tab_to("Customise")
        visitor.press("Enter")
        expect(_switch(visitor.page, "Audience measurement")).to_be_focused()
        last = "Save my choices"
    visitor.tab_to(last)

    focus = visitor.press("Tab")

    assert focus is not None and focus["place"] == "header", visitor.places()


# --- With the banner at the bottom: fixed over the page, it must hide no focused element -----

# The focused element, if it lies entirely under the bottom banner (WCAG 2.4.11).
HIDDEN_UNDER_BANNER = """() => {
    const element = document.activeElement;
    const banner = document.getElementById("cookieconsent-banner");
    if (!element || element === document.body || banner.contains(element)) {
        return null;
    }
    const box = element.getBoundingClientRect();
    const cover = banner.getBoundingClientRect();
    const hidden = box.top >= cover.top && box.bottom <= cover.bottom
        && box.left >= cover.left && box.right <= cover.right;
    return hidden ? `${element.tagName} ${(element.innerText || "").trim()}` : null;
}"""


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 800}, {"width": 375, "height": 667}],
    ids=["desktop", "mobile"],
)
def test_bottom_banner_hides_no_focused_element(
    new_page: Callable[..., Page], live_server: str, viewport: dict[str, int]
) -> None:
    # Reduced motion: CKAN's Bootstrap scrolls smoothly otherwise, and the focused element
    # would be measured on its way into view.
    page = new_page(viewport=viewport, reduced_motion="reduce")
    page.goto(f"{live_server}/about")
    expect(_banner(page)).to_be_visible()
    visitor = Visitor(page)

    hidden: list[str | None] = []
    for _ in range(60):  # once round the page: back to the skip link
        focus = visitor.press("Tab")
        if focus is not None and focus["place"] == "skip link" and len(visitor.stops) > 1:
            break
        hidden.append(page.evaluate(HIDDEN_UNDER_BANNER))

    names = [name for name in hidden if name]
    assert names == [], f"focused but entirely under the banner: {names}"


# --- Where the focus is, at every stop ----------------------------------------------------------


@pytest.mark.parametrize("flow", list(FLOWS))
def test_focus_is_visible_at_every_stop(visitor: Visitor, flow: str) -> None:
    FLOWS[flow](visitor)

    hidden = [
        f"after {key}: {focus['place']}: {focus['name']!r} "
        f"(outline {focus['outline']}, box-shadow {focus['box_shadow']})"
        for key, focus in visitor.stops
        if not focus["visible"]
    ]
    assert visitor.stops, "the focus never moved"
    assert hidden == [], "no focus indicator:\n" + "\n".join(hidden)
