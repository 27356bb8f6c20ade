"""Matomo's tag in a real browser, against a stub Matomo server on loopback.

Real: CKAN with the extension (the test's app over HTTP on 127.0.0.1), PostgreSQL, Debian's
chromium through Playwright, our templates and scripts, and the requests the browser sends.
Stubbed: the Matomo server. Its tracker, matomo.js, cannot be downloaded here, nor is it
packaged; a small HTTP server on another loopback port serves a stand-in instead
(STUB_TRACKER below) and records every request it receives. The stand-in runs the `_paq`
commands as Matomo's own tracker (js/piwik.js, Matomo 5) does for the commands our tag
pushes, in a few lines each: cookies on the page's domain (`_pk_id.<site>.<hash>`, 13
months from creation, not extended; `_pk_ses`, 30 minutes), none while `disableCookies`
holds, campaign parameters removed from the URL after `disableCampaignParameters`, the
screen resolution (`res`) not sent after `disableBrowserFeatureDetection`, nothing sent
after `optUserOut` (requests queued), which sets `mtm_consent_removed` and deletes the
cookies, `forgetUserOptOut` lifting it. A command it does not know is recorded (Matomo
would log an error), and every test checks there was none. Hits go to matomo.php as
image requests (Matomo sends GET or POST; the parameters are a subset of Matomo's).
So these tests show what our page asks of Matomo and when Matomo's server would hear from
the browser; not that Matomo's real tracker behaves as its stand-in does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import EXAMPLE
from page_probes import keep_on_loopback, mark_document, marker, open_footer_dialog
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# The tag's URL is read per request: the fixture sets it once the stub's port is known.
# The catalogue, built at start-up, names the host: 127.0.0.1 in both.
PLACEHOLDER = "http://127.0.0.1:9/"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_url", PLACEHOLDER),
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_site_id", "1"),
    pytest.mark.usefixtures("with_plugins"),
]
EXEMPT = [
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_mode", "exempt"),
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
]


def _exempt(test: Any) -> Any:
    for mark in EXEMPT:
        test = mark(test)
    return test


STUB_TRACKER = r"""
(function () {
  "use strict";
  var log = window.__matomoStub = {commands: [], unknown: []};
  var DAY = 86400;
  var s = {tracker: null, site: null, cookies: true, features: true, campaign: true,
           visitorTimeout: 33955200, consentRequired: false, queue: [], sent: false};
  function read(name) {
    var found = ("; " + document.cookie).split("; " + name + "=")[1];
    return found === undefined ? null : found.split(";")[0];
  }
  function write(name, value, seconds) {
    document.cookie = name + "=" + value + "; max-age=" + Math.round(seconds) + "; path=/";
  }
  function name(kind) { return "_pk_" + kind + "." + s.site + ".stub"; }
  var hasConsent = !read("mtm_consent_removed");
  function deleteCookies() {
    ["id", "ses", "ref"].forEach(function (kind) { write(name(kind), "", -1); });
  }
  function setVisitorCookie() {
    var now = Math.round(Date.now() / 1000);
    var value = read(name("id")) || (Math.random().toString(16).slice(2, 18) + "." + now);
    var created = parseInt(value.split(".")[1], 10);
    write(name("id"), value, created + s.visitorTimeout - now);  // not extended
    write(name("ses"), "1", 1800);
  }
  function purify(url) {
    if (s.campaign || s.consentRequired) { return url; }
    var parts = url.split("?");
    if (parts.length < 2) { return url; }
    var kept = parts[1].split("&").filter(function (pair) {
      return !/^(utm_|mtm_|pk_|matomo_|piwik_)/.test(pair);
    });
    return parts[0] + (kept.length ? "?" + kept.join("&") : "");
  }
  function send(query) {
    if (read("mtm_consent_removed")) { hasConsent = false; }
    if (!hasConsent) { s.queue.push(query); return; }
    s.sent = true;
    new Image().src = s.tracker + "?" + query;
  }
  function request(extra) {
    var query = "idsite=" + s.site + "&rec=1&url=" + encodeURIComponent(purify(location.href))
      + extra;
    if (s.cookies) {
      setVisitorCookie();
      query += "&_id=" + read(name("id")).split(".")[0];
    }
    if (s.features) { query += "&res=" + screen.width + "x" + screen.height; }
    return query;
  }
  var api = {
    setTrackerUrl: function (url) { s.tracker = url; },
    setSiteId: function (id) { s.site = id; },
    setVisitorCookieTimeout: function (seconds) { s.visitorTimeout = seconds; },
    disableCampaignParameters: function () { s.campaign = false; },
    disableBrowserFeatureDetection: function () { s.features = false; },
    enableLinkTracking: function () {},
    disableCookies: function () { s.cookies = false; if (s.site) { deleteCookies(); } },
    trackPageView: function () {
      send(request("&action_name=" + encodeURIComponent(document.title)));
    },
    setCookieConsentGiven: function () {
      if (!s.cookies) {
        s.cookies = true;
        s.features = true;
        if (s.site && s.sent) { send(request("&ping=1")); }
      }
    },
    optUserOut: function (hours) {  // forgetConsentGiven
      write("mtm_consent_removed", String(Date.now()), (hours || 30 * 365 * 24) * 3600);
      api.disableCookies();
      s.consentRequired = true;
      hasConsent = false;
    },
    forgetUserOptOut: function () {  // setConsentGiven(false)
      hasConsent = true;
      write("mtm_consent_removed", "", -1);
      var queued = s.queue;
      s.queue = [];
      queued.forEach(send);
    }
  };
  function run(command) {
    log.commands.push(Array.prototype.slice.call(command));
    var method = api[command[0]];
    if (method) { method.apply(null, Array.prototype.slice.call(command, 1)); }
    else { log.unknown.push(command[0]); }
  }
  var pending = window._paq || [];
  window._paq = {push: function () { Array.prototype.forEach.call(arguments, run); }};
  pending.forEach(run);
})();
"""


@dataclass
class StubMatomo:
    """The stub server: its base URL and every request it received (path, query)."""

    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def hits(self) -> list[dict[str, str]]:
        return [query for path, query in self.requests if path == "/matomo.php"]

    @property
    def scripts(self) -> int:
        return sum(path == "/matomo.js" for path, _ in self.requests)


def _serve(stub: StubMatomo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            stub.requests.append((parts.path, query))
            if parts.path == "/matomo.js":
                body = STUB_TRACKER.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/javascript")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(204)
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def matomo(
    live_server: str, page: Page, ckan_config: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StubMatomo]:
    """The stub Matomo server on its own loopback port, the portal's Matomo URL; `page`
    may reach nothing else off the portal."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stub = StubMatomo(url=f"http://127.0.0.1:{server.server_port}/")
    server.RequestHandlerClass = _serve(stub)
    thread = threading.Thread(target=server.serve_forever, name="stub-matomo", daemon=True)
    thread.start()
    monkeypatch.setitem(ckan_config, "ckanext.cookieconsent.matomo_url", stub.url)
    keep_on_loopback(page)
    try:
        yield stub
        assert _unknown(page) == [], "commands the tracker does not have"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- Helpers ---------------------------------------------------------------------------------


# A hit is waited for by its response: the stub records a request before it answers.


def _open(page: Page, url: str) -> None:
    """Load `url` and wait until no request has been made for 500 ms: whatever the page
    sends by itself has been sent."""
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _choose(page: Page, label: str) -> None:
    _banner(page).get_by_role("button", name=label).click()
    expect(_banner(page)).to_be_hidden()


def _commands(page: Page) -> list[list[Any]]:
    return page.evaluate("() => window.__matomoStub ? window.__matomoStub.commands : []")


def _unknown(page: Page) -> list[str]:
    try:
        return page.evaluate("() => window.__matomoStub ? window.__matomoStub.unknown : []")
    except Exception:  # the page is gone: nothing more to check
        return []


def _cookie_names(page: Page) -> set[str]:
    return {c.get("name", "") for c in page.context.cookies()}


def _matomo_cookies(page: Page) -> set[str]:
    return {name for name in _cookie_names(page) if name.startswith(("_pk_", "mtm_"))}


def _withdraw_on_the_policy_page(page: Page) -> None:
    page.get_by_role("button", name="Withdraw my consent").click()
    status = page.locator("#cookieconsent-choice").get_by_role("status")
    expect(status).to_have_text("Your choice has been saved.")


# --- consent mode (the default) -------------------------------------------------------------


def test_nothing_reaches_matomo_before_a_choice_or_after_a_refusal(
    page: Page, live_server: str, matomo: StubMatomo
) -> None:
    _open(page, f"{live_server}/about")
    expect(_banner(page).locator("input[name='granted'][value='statistics']")).to_have_count(1)
    assert matomo.requests == []
    assert page.evaluate("() => typeof window._paq") == "undefined"

    _choose(page, "Reject all")
    _open(page, f"{live_server}/about")
    assert matomo.requests == [], "not even matomo.js"
    assert _matomo_cookies(page) == set()


def test_matomo_counts_once_allowed_without_reload(
    page: Page, live_server: str, matomo: StubMatomo
) -> None:
    _open(page, f"{live_server}/about")
    mark_document(page)
    with page.expect_response(lambda response: "/matomo.php" in response.url):
        _choose(page, "Accept all")
    assert marker(page) == 1, "the page reloaded"
    assert _commands(page) == [
        ["setTrackerUrl", matomo.url + "matomo.php"],
        ["setSiteId", "1"],
        ["trackPageView"],
        ["enableLinkTracking"],
    ]
    (hit,) = matomo.hits
    assert hit["idsite"] == "1" and hit["url"] == f"{live_server}/about" and "_id" in hit
    assert {"_pk_id.1.stub", "_pk_ses.1.stub"} <= _matomo_cookies(page)

    _open(page, f"{live_server}/about")  # the next page renders the tag live
    assert len(matomo.hits) == 2 and matomo.hits[1]["_id"] == hit["_id"]


def test_a_withdrawal_stops_matomo_in_the_page_and_allowing_again_resumes(
    page: Page, live_server: str, matomo: StubMatomo
) -> None:
    _open(page, f"{live_server}/about")
    _choose(page, "Accept all")
    _open(page, f"{live_server}/cookies")
    assert len(matomo.hits) == 2
    mark_document(page)

    _withdraw_on_the_policy_page(page)

    assert marker(page) == 1, "the page reloaded"
    assert _commands(page)[-1] == ["optUserOut", 4320]  # 180 days, as our cookie
    page.evaluate("() => window._paq.push(['trackPageView'])")  # anything more: not sent
    page.wait_for_load_state("networkidle")
    assert len(matomo.hits) == 2
    # Matomo's cookies deleted; its opt-out remembered (a strictly necessary cookie).
    assert _matomo_cookies(page) == {"mtm_consent_removed"}

    scripts = matomo.scripts
    _open(page, f"{live_server}/about")
    assert matomo.scripts == scripts and len(matomo.hits) == 2, "the tag does not load"

    # Allowed again in this page: the tag starts, lifts Matomo's opt-out, and counts.
    with page.expect_response(lambda response: "/matomo.php" in response.url):
        open_footer_dialog(page).get_by_role("button", name="Accept all").click()
    assert _commands(page)[0] == ["forgetUserOptOut"]
    assert "mtm_consent_removed" not in _matomo_cookies(page)
    assert len(matomo.hits) == 3


# --- exempt mode (the CNIL's audience-measurement exemption) ----------------------------------


@_exempt
def test_exempt_mode_counts_without_cookies_until_the_visitor_chooses(
    page: Page, live_server: str, matomo: StubMatomo
) -> None:
    with page.expect_response(lambda response: "/matomo.php" in response.url):
        page.goto(f"{live_server}/about?utm_source=newsletter&mtm_campaign=spring&lang=x")
    page.wait_for_load_state("networkidle")
    assert _commands(page) == [
        ["setVisitorCookieTimeout", 33955200],
        ["disableCampaignParameters"],
        ["disableCookies"],
        ["disableBrowserFeatureDetection"],
        ["setTrackerUrl", matomo.url + "matomo.php"],
        ["setSiteId", "1"],
        ["trackPageView"],
        ["enableLinkTracking"],
    ]
    (hit,) = matomo.hits
    assert hit["url"] == f"{live_server}/about?lang=x", "campaign parameters are not sent"
    assert "_id" not in hit and "res" not in hit
    assert _matomo_cookies(page) == set(), "no cookie before a choice"

    # A choice that keeps audience measurement: cookies from now on, 13 months at most.
    with page.expect_response(lambda response: "ping=1" in response.url):
        _choose(page, "Accept all")
    assert _commands(page)[-1] == ["setCookieConsentGiven"]
    (visitor,) = [c for c in page.context.cookies() if c.get("name") == "_pk_id.1.stub"]
    assert visitor.get("expires", 0) > 0

    _open(page, f"{live_server}/about")
    assert ["disableCookies"] not in _commands(page)
    assert "_id" in matomo.hits[-1]


@_exempt
def test_exempt_mode_stops_on_an_objection(
    page: Page, live_server: str, matomo: StubMatomo
) -> None:
    _open(page, f"{live_server}/cookies")
    assert len(matomo.hits) == 1
    mark_document(page)
    page.locator("#cookieconsent-policy-reject-all").click()  # the opt-out, no choice before
    expect(page.locator("#cookieconsent-choice").get_by_role("status")).to_have_text(
        "Your choice has been saved."
    )
    assert marker(page) == 1, "the page reloaded"
    assert _commands(page)[-1] == ["optUserOut", 4320]
    page.evaluate("() => window._paq.push(['trackPageView'])")
    page.wait_for_load_state("networkidle")
    assert len(matomo.hits) == 1

    scripts = matomo.scripts
    _open(page, f"{live_server}/about")
    assert matomo.scripts == scripts and len(matomo.hits) == 1, "the tag does not load"
