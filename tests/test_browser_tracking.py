"""CKAN's core `tracking` plugin in a real browser, listed before or after cookieconsent.

Debian's chromium through Playwright (fixtures in browser_fixtures.py) against the test's CKAN
on 127.0.0.1 with the real tracking plugin, its real tracking.js and the real PostgreSQL
`tracking_raw` table, and only the built-in catalogue: the statistics category holds no
cookie but the tracking entry the integration declares, so these tests also show that
visitors are asked about it and can allow it. Every POST the page sends to /_tracking is
recorded, and the rows are counted in the database.

tracking.js gives up on its POST after 300 ms, so the browser may not see the answer on a
busy machine: the tests wait for the server instead, which logs the request once its
handlers (the row's INSERT and COMMIT) have run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from page_probes import choose_in_banner, leaves_loopback, mark_document, marker
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

ORDERS = [
    pytest.param(order, marks=pytest.mark.ckan_config("ckan.plugins", order), id=ident)
    for order, ident in [
        ("cookieconsent tracking", "cookieconsent-first"),
        ("tracking cookieconsent", "tracking-first"),
    ]
]
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("with_plugins", "clean_db")]


def _rows() -> int:
    """The rows in CKAN's tracking_raw table, as the live server committed them."""
    import ckan.model as model
    import sqlalchemy as sa

    model.Session.remove()
    return model.Session.execute(sa.text("SELECT count(*) FROM tracking_raw")).scalar_one()


def _is_hit(request: Request) -> bool:
    return request.method == "POST" and urlsplit(request.url).path == "/_tracking"


class _Served(logging.Handler):
    """Counts the /_tracking POSTs the live server has answered (werkzeug's request log,
    written when the response starts, after CKAN's after_request handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if "POST /_tracking " in record.getMessage():
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            answered = self.changed.wait_for(lambda: self.count >= count, timeout=10)
        assert answered, f"the server answered {self.count} hits, not {count}"


@pytest.fixture
def served() -> Iterator[_Served]:
    handler = _Served()
    log = logging.getLogger("werkzeug")
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)
    log.setLevel(level)


@pytest.fixture
def hits(page: Page) -> Iterator[list[str]]:
    """The bodies of the /_tracking POSTs the page's context sent; the table starts empty.

    Requests are only watched, not routed: a routed request waits for this thread, which
    waits for the server in `_Served.wait_for`, and tracking.js gives up after 300 ms.
    Nothing may leave loopback.
    """
    import ckan.model as model
    import sqlalchemy as sa

    model.Session.execute(sa.text("DELETE FROM tracking_raw"))
    model.Session.commit()
    sent: list[str] = []
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        if _is_hit(request):
            sent.append(request.post_data or "")
        elif leaves_loopback(request.url):
            elsewhere.append(request.url)

    page.context.on("request", note)
    yield sent
    assert elsewhere == [], "requests off loopback"


def _open(page: Page, url: str | None = None) -> None:
    """Load `url` (reload if None) and wait until no request has been made for 500 ms:
    whatever the page sends by itself has been sent."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_load_state("networkidle")


@pytest.fixture
def about(page: Page, live_server: str, hits: list[str], plugins: str) -> Page:
    _open(page, f"{live_server}/about")
    return page


@pytest.mark.parametrize("plugins", ORDERS)
def test_nothing_is_sent_or_stored_before_a_choice(about: Page, hits: list[str]) -> None:
    banner = about.locator("#cookieconsent-banner")
    expect(banner.locator("input[name='granted'][value='statistics']")).to_have_count(1)
    _open(about)  # and on the next page
    assert hits == []
    assert _rows() == 0


@pytest.mark.parametrize("plugins", ORDERS)
def test_nothing_is_sent_or_stored_after_reject_all(about: Page, hits: list[str]) -> None:
    choose_in_banner(about, "refuse_all")
    _open(about)
    expect(about.locator("#cookieconsent-banner")).to_have_count(0)  # the choice holds
    about.locator("a[href]").first.dispatch_event("click")  # a click on a tracked link too
    assert hits == []
    assert _rows() == 0


@pytest.mark.parametrize("plugins", ORDERS)
def test_accept_all_starts_tracking_without_a_reload(
    about: Page, hits: list[str], served: _Served
) -> None:
    mark_document(about)
    with about.expect_request(_is_hit):
        choose_in_banner(about, "accept_all")
    served.wait_for(1)
    assert marker(about) == 1, "the page reloaded"
    assert len(hits) == 1 and "type=page" in hits[0]
    assert _rows() == 1

    with about.expect_request(_is_hit):
        _open(about)  # the next page loads tracking.js live
    served.wait_for(2)
    assert _rows() == 2


@pytest.mark.parametrize("plugins", ORDERS[:1])
def test_a_hit_sent_anyway_after_reject_all_is_not_stored(
    about: Page, hits: list[str], live_server: str
) -> None:
    """What the page's own script does not send, a script of the visitor's could: the
    server drops it (same origin, the visitor's cookies)."""
    choose_in_banner(about, "refuse_all")
    status = about.evaluate(
        "(url) => fetch(url, {method: 'POST', body: new URLSearchParams("
        "{url: '/about', type: 'page'})}).then((r) => r.status)",
        f"{live_server}/_tracking",
    )
    assert isinstance(status, int)  # answered: the server has run its handlers
    assert len(hits) == 1
    assert _rows() == 0
