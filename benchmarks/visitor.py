"""A visitor's choice as a browser without JavaScript makes it, for `pages` and `records`.

A GET of a page gives the session cookie `ckan` and the banner form's `_csrf_token`; the
choice is `POST /cookies/consent` with them, the page's Origin and `Sec-Fetch-Site:
same-origin`, CSRF protection on (CKAN's default), answered 303 with the preferences cookie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from measure import Client

CONSENT_PATH = "/cookies/consent"
SESSION_COOKIE = "ckan"  # SESSION_COOKIE_NAME's default
PREFERENCES_COOKIE = "cookies_preferences"  # ckanext.cookieconsent.cookie_name's default
CSRF_FIELD = "_csrf_token"  # WTF_CSRF_FIELD_NAME's default
# What a browser sends with a form POST of a page of the same site.
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_CSRF_INPUT = re.compile(
    rf'<input\b[^>]*\bname="{CSRF_FIELD}"[^>]*\bvalue="([^"]+)"'
    rf'|<input\b[^>]*\bvalue="([^"]+)"[^>]*\bname="{CSRF_FIELD}"'
)


@dataclass(frozen=True)
class Visitor:
    """A browser session on a server: its session cookie and the banner form's token."""

    origin: str  # the server's URL
    page: str
    session: str
    token: str

    def accept_all(self) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the banner's "Accept all", as a browser sends them."""
        form = {CSRF_FIELD: self.token, "action": "accept_all", "came_from": self.page}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{SESSION_COOKIE}={self.session}",
            "Origin": self.origin,
            "Referer": self.origin + self.page,
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "navigate",
            "Accept": ACCEPT,
        }
        return urlencode({**form, "origin": "banner"}).encode(), headers


def visit(client: Client, origin: str, page: str) -> Visitor:
    """GET the page on the client's server, as a first-time visitor."""
    status, headers, body = client.fetch("GET", page, headers={"Accept": ACCEPT})
    session = cookies(headers).get(SESSION_COOKIE)
    match = _CSRF_INPUT.search(body.decode("utf-8", "replace"))
    if status != 200 or not session or not match:
        raise RuntimeError(
            f"GET {origin}{page} answered {status} {title(body)} with no `{SESSION_COOKIE}` "
            f"cookie or no `{CSRF_FIELD}` input (cookies: {sorted(cookies(headers))}); is "
            "the banner shown?"
        )
    return Visitor(origin, page, session, match.group(1) or match.group(2))


def preferences_cookie(origin: str, page: str = "/about") -> str:
    """A valid preferences cookie from the server at `origin`: a visit, then "Accept all"."""
    with Client(origin + page) as client:
        body, headers = visit(client, origin, page).accept_all()
        status, answer_headers, answer = client.fetch("POST", CONSENT_PATH, body, headers)
    preferences = cookies(answer_headers).get(PREFERENCES_COOKIE)
    if status != 303 or not preferences:
        raise RuntimeError(f"POST {CONSENT_PATH} answered {status}: {answer[:300]!r}")
    return preferences


def cookies(headers: Message) -> dict[str, str]:
    """The cookies an answer sets, by name."""
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def consent_id(headers: Message) -> str | None:
    """The consent id in the preferences cookie a choice set (its 4th `:` field)."""
    parts = cookies(headers).get(PREFERENCES_COOKIE, "").split(":")
    return parts[3] if len(parts) == 6 else None


def title(page: bytes) -> str:
    """An error page's title, to say why in a line (CKAN's error pages carry it)."""
    match = re.search(rb"<title>\s*(.*?)\s*</title>", page, re.DOTALL)
    return repr(" ".join(match.group(1).decode("utf-8", "replace").split())) if match else ""
