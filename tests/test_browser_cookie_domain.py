"""One consent across the portal's sites, in chromium: CKAN at data.example.test and a
second site at www.example.test that includes the reader CKAN serves. Both names resolve to
127.0.0.1 through chromium's `--host-resolver-rules` (a browser of its own, launched from
the session's Playwright with that one flag more); nothing leaves loopback.

The choice made on CKAN is read on the other site; a refusal made on CKAN deletes the
refused cookies the other site set on the shared domain (HttpOnly ones too); a choice stored
on CKAN's host before the option was set does not stay beside the shared one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
import pytest
from browser_fixtures import CHROMIUM, CHROMIUM_ARGS
from helpers import EXAMPLE_MARKS, PREFERENCES
from page_probes import choose_in_banner
from playwright.sync_api import expect

from ckanext.cookieconsent import catalogue, consent

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

DOMAIN = "example.test"

pytestmark = [
    pytest.mark.browser,
    *EXAMPLE_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.cookie_domain", f".{DOMAIN}"),
    # What start-up checks the domain against; live_server replaces it with its own URL,
    # and `portal` with the public one, port included.
    pytest.mark.ckan_config("ckan.site_url", f"http://data.{DOMAIN}"),
]


@pytest.fixture(scope="module")
def mapped_browser(browser: Browser) -> Iterator[Browser]:
    """A chromium for which every *.example.test is 127.0.0.1 (ports kept)."""
    rules = f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1"
    mapped = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules]
    )
    try:
        yield mapped
    finally:
        mapped.close()


@pytest.fixture
def portal(live_server: str, ckan_config: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """CKAN's public URL, http://data.example.test:<port>."""
    url = f"http://data.{DOMAIN}:{urlsplit(live_server).port}"
    monkeypatch.setitem(ckan_config, "ckan.site_url", url)
    return url


# The other site's page: it includes CKAN's reader and shows what it reads.
OTHER_SITE = """<!doctype html><html lang="en"><head><title>www</title>
<script src="{portal}/cookieconsent/reader.js"></script></head><body>
<output id="choice"></output>
<script>
  var choice = CookieConsentReader.read();
  document.getElementById("choice").textContent = JSON.stringify(
    choice && {{revision: choice.revision, granted: choice.granted,
                statistics: choice.allows("statistics"), madeAt: choice.madeAt}});
</script></body></html>
"""


@pytest.fixture
def other_site(portal: str) -> Iterator[str]:
    """A tiny site at http://www.example.test:<port> that includes the reader."""
    page = OTHER_SITE.format(portal=portal).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="www", daemon=True)
    thread.start()
    try:
        yield f"http://www.{DOMAIN}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def context(mapped_browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context whose requests stay on the mapped names (all on loopback)."""
    created = mapped_browser.new_context(locale="en-GB")
    created.set_default_timeout(10_000)

    def abort(route: Route) -> None:
        route.abort()

    created.route(lambda url: not (urlsplit(url).hostname or "").endswith(DOMAIN), abort)
    try:
        yield created
    finally:
        created.close()


def _read_on(page: Page, other_site: str) -> Any:
    page.goto(f"{other_site}/")
    expect(page.locator("#choice")).not_to_have_text("")
    return json.loads(page.locator("#choice").text_content() or "")


def _choose_on_policy_page(page: Page, portal: str, action: str) -> None:
    page.goto(f"{portal}/cookies")
    page.locator(f"#cookieconsent-choice button[value={action}]").click()
    status = page.locator("#cookieconsent-choice").get_by_role("status")
    expect(status).to_have_text("Your choice has been saved.")


def _preferences(context: BrowserContext) -> list[dict[str, Any]]:
    return [dict(c) for c in context.cookies() if c.get("name") == PREFERENCES]


def test_a_choice_made_on_ckan_is_read_on_the_other_site(
    context: BrowserContext, portal: str, other_site: str
) -> None:
    page = context.new_page()
    assert _read_on(page, other_site) is None, "a choice before any was made"

    page.goto(f"{portal}/about")
    choose_in_banner(page, "accept_all")
    [cookie] = _preferences(context)
    assert cookie["domain"] == f".{DOMAIN}"
    read = _read_on(page, other_site)
    assert read["revision"] == catalogue.current().revision
    assert read["granted"] == ["media", "statistics"] and read["statistics"] is True

    _choose_on_policy_page(page, portal, "refuse_all")
    read = _read_on(page, other_site)
    assert read["granted"] == [] and read["statistics"] is False


def test_refusing_on_ckan_deletes_what_the_other_site_set_on_the_domain(
    context: BrowserContext, portal: str, other_site: str
) -> None:
    page = context.new_page()
    page.goto(f"{portal}/about")
    choose_in_banner(page, "accept_all")
    # Matomo's cookies, as the other site would set them on the shared domain: one that
    # scripts see, one HttpOnly (only the server can delete it).
    context.add_cookies(
        [
            {"name": "_pk_id.1.abcd", "value": "x", "domain": f".{DOMAIN}", "path": "/"},
            {"name": "_pk_ses.1.abcd", "value": "x", "domain": f".{DOMAIN}", "path": "/",
             "httpOnly": True},
        ]
    )  # fmt: skip
    _choose_on_policy_page(page, portal, "refuse_all")
    names = {c.get("name") for c in context.cookies()}
    assert not names & {"_pk_id.1.abcd", "_pk_ses.1.abcd"}, names
    assert PREFERENCES in names


def test_the_host_only_choice_of_before_does_not_stay_beside_the_shared_one(
    context: BrowserContext, portal: str, other_site: str
) -> None:
    """A choice stored before the option was set (host-only on CKAN's host): the next
    choice replaces it; the browser keeps one cookie of the name, the shared one."""
    portal_now = catalogue.current()
    key = consent.signing_key(tk.config.get("SECRET_KEY"))
    before = consent.serialise(consent.new_choice(portal_now, ["media"], None), key)
    context.add_cookies([{"name": PREFERENCES, "value": before, "url": portal}])
    [host_only] = _preferences(context)
    assert host_only["domain"] == f"data.{DOMAIN}"
    page = context.new_page()
    assert _read_on(page, other_site) is None, "the other site sees a host-only cookie"

    _choose_on_policy_page(page, portal, "accept_all")
    [shared] = _preferences(context)
    assert shared["domain"] == f".{DOMAIN}" and shared["value"] != before
    assert shared["value"].split(":")[3] == before.split(":")[3], "the consent id is kept"
    assert _read_on(page, other_site)["granted"] == ["media", "statistics"]


def test_a_planted_cookie_that_disagrees_makes_the_reader_see_no_choice(
    context: BrowserContext, portal: str, other_site: str
) -> None:
    page = context.new_page()
    page.goto(f"{portal}/about")
    choose_in_banner(page, "refuse_all")
    [shared] = _preferences(context)
    planted = shared["value"].replace("::", ":media/statistics:")
    context.add_cookies([{"name": PREFERENCES, "value": planted, "url": other_site}])
    assert len(_preferences(context)) == 2
    assert _read_on(page, other_site) is None
