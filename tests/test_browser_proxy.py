"""Behind a TLS-terminating reverse proxy: Debian's nginx configured as ckan-docker
configures it (fixture `tls_proxy` in browser_fixtures.py), in chromium, with and without
JavaScript.

CKAN gets plain http with `Host: localhost` (no port, no X-Forwarded-Proto) while the browser
is on https://localhost:<port>, which is `ckan.site_url`: the choice must still be stored, in a
`Secure` cookie, and a cross-site POST must still be refused.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest
from helpers import DEMO_CATALOGUE, PLUGIN_MARKS
from playwright.sync_api import expect

if TYPE_CHECKING:
    from browser_fixtures import TlsProxy
    from playwright.sync_api import Locator, Page

PREFERENCES = "cookies_preferences"

pytestmark = [
    pytest.mark.browser,
    *PLUGIN_MARKS,
    # Two categories that need consent: the banner shows.
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO_CATALOGUE),
]


def _banner(page: Page) -> Locator:
    return page.locator("#cookieconsent-banner")


def _action(page: Page, value: str) -> Locator:
    return _banner(page).locator(f"button[name=action][value={value}]")


def _customise_and_save(page: Page) -> None:
    _banner(page).locator("[data-cookieconsent-customise]").click()
    media = _banner(page).get_by_role("switch", name="Third-party content")
    expect(media).to_be_visible()
    media.check()
    _action(page, "save").click()


CHOICES: dict[str, Callable[[Page], None]] = {
    "accept-all": lambda page: _action(page, "accept_all").click(),
    "reject-all": lambda page: _action(page, "refuse_all").click(),
    "customise-save": _customise_and_save,
}


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
@pytest.mark.parametrize("choose", CHOICES.values(), ids=CHOICES.keys())
def test_choice_through_the_proxy_is_stored_in_a_secure_cookie(
    new_page: Callable[..., Page],
    tls_proxy: TlsProxy,
    javascript: bool,
    choose: Callable[[Page], None],
) -> None:
    page = new_page(java_script_enabled=javascript, ignore_https_errors=True)
    page.goto(f"{tls_proxy.url}/about")
    expect(_banner(page)).to_be_visible()

    with page.expect_response(f"{tls_proxy.url}/cookies/consent") as posted:
        choose(page)

    assert posted.value.status == (200 if javascript else 303)
    if not javascript:
        expect(page).to_have_url(f"{tls_proxy.url}/about")
    expect(_banner(page)).not_to_be_visible()
    stored = [c for c in page.context.cookies() if c.get("name") == PREFERENCES]
    assert [c.get("secure") for c in stored] == [True]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 303 itself is the answer


def _post_choice(proxy: TlsProxy, origin: str) -> int:
    """The status of a plain form POST of "accept all" through nginx (certificate verified),
    with the given Origin header and no Sec-Fetch-Site (as from a non-browser client)."""
    request = urllib.request.Request(
        f"{proxy.url}/cookies/consent",
        data=urlencode({"action": "accept_all", "came_from": "/about"}).encode(),
        headers={"Origin": origin},
        method="POST",
    )
    tls = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=proxy.cafile))
    opener = urllib.request.build_opener(tls, _NoRedirect())
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://localhost.evil.example",
        "null",
        "http://localhost:{port}",  # the public host and port, another scheme
        "https://localhost:{other}",  # the public scheme and host, another port
    ],
    ids=["other-site", "suffixed-host", "null", "other-scheme", "other-port"],
)
def test_cross_site_post_through_the_proxy_is_refused(tls_proxy: TlsProxy, origin: str) -> None:
    port = int(urlsplit(tls_proxy.url).port or 443)
    forged = origin.format(port=port, other=port + 1)

    assert _post_choice(tls_proxy, forged) == 403


def test_public_origin_through_the_proxy_is_accepted(tls_proxy: TlsProxy) -> None:
    """The control for the refusals above: the same POST from the portal's public origin."""
    assert _post_choice(tls_proxy, tls_proxy.url) == 303
