"""CKAN's webpage_view of another site's page, in chromium: what that site receives.

A live CKAN on 127.0.0.1 with CKAN's view plugins and the demo's catalogue (`media` holds a
cookie: visitors are asked about it), datasets indexed by the Solr stand-in; the other
site is a small server on "localhost" (another origin, another site for the browser) that
serves a page setting a cookie and records every request it receives. The view is read
where CKAN shows it: inline on the resource page, and on its own page (/view/<id>: the
"Fullscreen" link), which extends base.html, also as the frame of CKAN's embed code on
another site (a page of the other site framing it).

test_resource_views.py checks the markup over HTTP; this checks the requests.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from ckan.tests import factories
from ckan.tests.helpers import call_action
from helpers import DEMO_CATALOGUE
from page_probes import allowed, keep_on_loopback, mark_document, marker
from playwright.sync_api import expect
from solr_standin import SolrStandin

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator, Page

PREFERENCES = "cookies_preferences"
LOADED = "Third-party view loaded"
EMBEDDER = "/embedder.html"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent webpage_view video_view audio_view"),
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO_CATALOGUE),
    pytest.mark.usefixtures("solr", "with_plugins"),
]


# --- The other site ----------------------------------------------------------------------------


@dataclass
class OtherSite:
    """A server on localhost:<port>, another origin than the portal's 127.0.0.1."""

    port: int
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def page_url(self) -> str:
        return f"http://localhost:{self.port}/page.html"

    def embedding(self, url: str) -> str:
        """A page of this site that frames `url`, as CKAN's embed code does."""
        return f"http://localhost:{self.port}{EMBEDDER}?src={quote(url, safe='')}"

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    def received(self) -> list[str]:
        with self.lock:
            return list(self.paths)


def _handler(site: OtherSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == EMBEDDER:  # a site with CKAN's embed code: the view's own page
                frame = html.escape(parse_qs(parts.query)["src"][0])
                body = f'<!DOCTYPE html><title>Embedder</title><iframe src="{frame}" width="800"'
                body += ' height="600"></iframe>'
                self._send(body.encode(), cookie=False)
                return
            with site.lock:
                site.paths.append(self.path)
            body = f'<!DOCTYPE html><title>Other site</title><p id="loaded">{LOADED}</p>'
            self._send(body.encode(), cookie=True)

        def _send(self, body: bytes, cookie: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if cookie:
                self.send_header("Set-Cookie", "other_site_id=42; Path=/; SameSite=None")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(OtherSite(0)))
    site = OtherSite(server.server_port)
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def solr(ckan_config: Any) -> Iterator[SolrStandin]:
    with SolrStandin() as standin:
        ckan_config["solr_url"] = standin.url
        yield standin


@dataclass(frozen=True)
class View:
    resource_page: str
    own_page: str


@pytest.fixture
def view(live_server: str, other_site: OtherSite) -> View:
    """A dataset whose resource is the other site's page, with a webpage view of it."""
    dataset = factories.Dataset(owner_org=factories.Organization()["id"])
    resource = factories.Resource(package_id=dataset["id"], url=other_site.page_url, format="html")
    created = call_action(
        "resource_view_create", resource_id=resource["id"], view_type="webpage_view",
        title="Regional map",
    )  # fmt: skip
    page = f"{live_server}/dataset/{dataset['name']}/resource/{resource['id']}"
    return View(page, f"{page}/view/{created['id']}")


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    page = new_page()
    keep_on_loopback(page)
    return page


# --- Helpers -------------------------------------------------------------------------------


def _open(page: Page, url: str) -> None:
    """Load `url` and wait until no request has been made for 500 ms, frames included."""
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _placeholder(page: Page) -> Locator:
    return page.locator("[data-cookieconsent-embed='media']")


def _content(page: Page, site: OtherSite) -> FrameLocator:
    return page.frame_locator(f"iframe[src='{site.page_url}']")


def _expect_loaded(page: Page, site: OtherSite) -> None:
    expect(_content(page, site).locator("#loaded")).to_have_text(LOADED)


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _cookies_of(page: Page, host: str) -> set[str]:
    return {c.get("name", "") for c in page.context.cookies() if c.get("domain") == host}


def _granted(page: Page) -> set[str]:
    value = next(c.get("value", "") for c in page.context.cookies() if c.get("name") == PREFERENCES)
    granted = value.split(":")[4]
    return set(granted.split("/")) if granted else set()


# --- Before consent, after refusal: the other site hears nothing ------------------------------


@pytest.mark.parametrize("where", ["resource_page", "own_page"])
def test_nothing_reaches_the_other_site_before_consent(
    page: Page, view: View, other_site: OtherSite, where: str
) -> None:
    _open(page, getattr(view, where))

    expect(_placeholder(page)).to_contain_text(f"This content is provided by {other_site.host}")
    expect(_placeholder(page).get_by_role("button", name="Allow this once")).to_be_visible()
    assert other_site.received() == []
    assert _cookies_of(page, "localhost") == set()


def test_nothing_reaches_the_other_site_after_refusal(
    page: Page, view: View, other_site: OtherSite
) -> None:
    _open(page, view.resource_page)
    _banner(page).get_by_role("button", name="Reject all", exact=True).click()
    expect(_banner(page)).to_be_hidden()
    _open(page, view.own_page)
    _open(page, view.resource_page)

    expect(_placeholder(page)).to_be_visible()
    assert other_site.received() == []


# --- Consent loads it, in place, once -----------------------------------------------------------


@pytest.mark.parametrize("where", ["resource_page", "own_page"])
def test_allow_this_once_loads_the_page_without_storing_a_choice(
    page: Page, view: View, other_site: OtherSite, where: str
) -> None:
    _open(page, getattr(view, where))

    _placeholder(page).get_by_role("button", name="Allow this once").click()

    _expect_loaded(page, other_site)
    assert other_site.received() == ["/page.html"]
    assert PREFERENCES not in _cookies_of(page, "127.0.0.1")
    _open(page, getattr(view, where))  # once: the next visit asks again
    expect(_placeholder(page)).to_be_visible()
    assert other_site.received() == ["/page.html"]


@pytest.mark.parametrize("where", ["resource_page", "own_page"])
def test_always_allow_loads_the_page_and_allows_the_category(
    page: Page, view: View, other_site: OtherSite, where: str
) -> None:
    _open(page, getattr(view, where))
    mark_document(page)

    _placeholder(page).get_by_role("button", name="Always allow “Third-party content”").click()

    _expect_loaded(page, other_site)
    assert marker(page) == 1, "the page reloaded"
    assert other_site.received() == ["/page.html"]
    assert _granted(page) == {"media"} and allowed(page, "media")
    # The other place shows it directly now.
    _open(page, view.own_page if where == "resource_page" else view.resource_page)
    _expect_loaded(page, other_site)
    expect(_placeholder(page)).to_have_count(0)


def test_accept_all_in_the_banner_loads_the_page_without_reload(
    page: Page, view: View, other_site: OtherSite
) -> None:
    _open(page, view.resource_page)
    mark_document(page)

    _banner(page).get_by_role("button", name="Accept all").click()

    _expect_loaded(page, other_site)
    assert marker(page) == 1, "the page reloaded"
    assert other_site.received() == ["/page.html"]


# --- Without JavaScript --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["resource_page", "own_page"])
def test_without_javascript_the_form_stores_consent_and_the_page_loads(
    new_page: Callable[..., Page], view: View, other_site: OtherSite, where: str
) -> None:
    page = new_page(java_script_enabled=False)
    keep_on_loopback(page)
    _open(page, getattr(view, where))
    link = _placeholder(page).get_by_role("link", name=f"Open this content on {other_site.host}")
    expect(link).to_have_attribute("href", other_site.page_url)
    expect(_placeholder(page).get_by_role("button", name="Allow this once")).to_be_hidden()
    assert other_site.received() == []

    with page.expect_navigation():
        _placeholder(page).get_by_role("button", name="Always allow “Third-party content”").click()
    page.wait_for_load_state("networkidle")

    assert page.url == getattr(view, where)  # back where the visitor was
    _expect_loaded(page, other_site)
    assert other_site.received() == ["/page.html"]
    assert _granted(page) == {"media"}


# --- The view's own page as the frame of CKAN's embed code, on another site ------------------


def test_in_the_embed_codes_frame_nothing_loads_until_allowed_once(
    page: Page, view: View, other_site: OtherSite
) -> None:
    _open(page, other_site.embedding(view.own_page))
    frame = page.frame_locator(f"iframe[src='{view.own_page}']")
    placeholder = frame.locator("[data-cookieconsent-embed='media']")
    expect(placeholder).to_contain_text(f"This content is provided by {other_site.host}")
    assert other_site.received() == []

    placeholder.get_by_role("button", name="Allow this once").click()

    content = frame.frame_locator(f"iframe[src='{other_site.page_url}']")
    expect(content.locator("#loaded")).to_have_text(LOADED)
    assert other_site.received() == ["/page.html"]
