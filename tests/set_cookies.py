"""Reading the Set-Cookie headers of a response, shared by the server-side tests."""

from __future__ import annotations

from http.cookies import Morsel, SimpleCookie
from typing import Any


def set_cookies(response: Any) -> dict[str, Morsel[str]]:
    """Every cookie the response sets, by name (the last one wins)."""
    jar: dict[str, Morsel[str]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        jar.update(parsed)
    return jar
