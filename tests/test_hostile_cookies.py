"""Hostile preferences cookies, sent as raw bytes over real HTTP: every one is "no choice".

Any page on this host, on a sibling subdomain or on another port can plant a
`cookies_preferences` cookie. Whatever its bytes (non-ASCII, Latin-1, emoji, NUL, far too
long) in whichever field, the portal must answer a normal page with the banner, and the
visitor must still be able to make a choice that replaces it.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
import pytest
from helpers import EXAMPLE_MARKS

from ckanext.cookieconsent import catalogue, consent

BANNER = b'id="cookieconsent-banner"'
FIELDS = ("version", "revision", "time", "consent_id", "granted", "signature")

pytestmark = EXAMPLE_MARKS

# Bytes a browser may carry in a cookie value (it sends them as they were set).
HOSTILE: dict[str, bytes] = {
    "non-ascii": "é".encode(),
    "latin-1": b"\xe9",
    "emoji": "🍪".encode(),
    "nul": b"\x00",
    "c1-control": b"\x85",
    "oversized": b"A" * 600,
}


def _valid_fields() -> list[bytes]:
    current = catalogue.current()
    choice = consent.new_choice(current, ["statistics", "media"], None)
    value = consent.serialise(choice, consent.signing_key(tk.config.get("SECRET_KEY")))
    return [part.encode() for part in value.split(":")]


def _request(base_url: str, method: str, path: str, cookie: bytes, body: bytes = b"") -> Any:
    """One request with the Cookie header exactly as given (http.client sends bytes as is)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(method, path)
        connection.putheader("Cookie", b"cookies_preferences=" + cookie)
        if body:
            connection.putheader("Content-Type", "application/x-www-form-urlencoded")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def test_the_valid_cookie_this_table_mutates_is_a_choice(live_server: str) -> None:
    """The baseline: unchanged, the value is accepted (no banner), so each mutation below
    is refused because of its bytes, not because the base value was wrong."""
    status, _, body = _request(live_server, "GET", "/about", b":".join(_valid_fields()))
    assert status == 200
    assert BANNER not in body


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("field", range(len(FIELDS)), ids=FIELDS)
# "inserted" puts the bytes inside the field, not at either end of the whole value: there,
# whitespace-like bytes (U+0085 as Latin-1) are trimmed by the cookie parser before we see
# them, and the signed value left is then rightly a choice.
@pytest.mark.parametrize("mode", ["replaced", "inserted"])
def test_hostile_bytes_in_any_field_give_a_normal_page_with_the_banner(
    live_server: str, field: int, kind: str, mode: str
) -> None:
    parts = _valid_fields()
    original = parts[field]
    inserted = original[:1] + HOSTILE[kind] + original[1:]
    parts[field] = HOSTILE[kind] if mode == "replaced" else inserted
    cookie = b":".join(parts)

    status, _, body = _request(live_server, "GET", "/about", cookie)
    assert status == 200, body[:300]
    assert BANNER in body  # no choice: asked again

    status, _, body = _request(live_server, "GET", "/cookies", cookie)
    assert status == 200, body[:300]


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_visitor_with_a_hostile_cookie_can_still_choose(live_server: str, kind: str) -> None:
    parts = _valid_fields()
    parts[5] = HOSTILE[kind]
    status, headers, _ = _request(
        live_server, "POST", "/cookies/consent", b":".join(parts), body=b"action=refuse_all"
    )
    assert status == 303
    stored = [v for k, v in headers if k.lower() == "set-cookie" and "cookies_preferences=1:" in v]
    assert len(stored) == 1, headers
