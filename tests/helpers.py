"""What the tests share: the catalogues they load, their module marks, reading a
response's Set-Cookie headers and posting a consent choice (browser-only probes are in
page_probes.py, browser fixtures in browser_fixtures.py, database rows in record_factories.py)."""

from __future__ import annotations

from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "dev"

EXAMPLE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
DEMO_CATALOGUE = str(DEMO / "demo_catalogue.yaml")
PREFERENCES = "cookies_preferences"

# The values a catalogue's {placeholders} take with CKAN's and the extension's defaults.
VALUES = {
    "session_cookie": "ckan",
    "session_duration": "31536000",
    "remember_cookie": "remember_token",
    "preferences_cookie": PREFERENCES,
    "preferences_max_age": "15552000",
}

# Our plugin only (`pytest_runtestloop` unloads every plugin before the tests).
PLUGIN_MARKS = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.usefixtures("with_plugins"),
]
# Our plugin with the example catalogue (statistics exempt, media to ask about).
EXAMPLE_MARKS = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
]
# The browser tests on the demo portal: its catalogue (two categories to ask about,
# neither exempt) and its theme (a gated frame on /about).
DEMO_MARKS = [
    pytest.mark.browser,
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO_CATALOGUE),
    pytest.mark.ckan_config("extra_template_paths", str(DEMO / "demo_theme" / "templates")),
    pytest.mark.ckan_config("extra_public_paths", str(DEMO / "demo_theme" / "public")),
]


def set_cookies(response: Any) -> dict[str, Morsel[str]]:
    """Every cookie the response sets, by name (the last one wins). Parsed by hand: CKAN's
    session cookie carries an empty `Domain=`, for which cookie jars drop it."""
    jar: dict[str, Morsel[str]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        jar.update(parsed)
    return jar


def set_cookie_headers(response: Any, name: str) -> list[str]:
    """The raw Set-Cookie headers of the cookie `name`, in order (a cookie may be deleted
    once per domain, so there may be several)."""
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def consent_id(response: Any) -> str:
    """The consent id in the preferences cookie the response sets."""
    cookies = set_cookies(response)
    assert PREFERENCES in cookies, "no preferences cookie set"
    return cookies[PREFERENCES].value.split(":")[3]


def choose(client: Any, action: str, *, path: str = "/cookies/consent", **form: Any) -> Any:
    """Post a choice as the banner's form does (`came_from` /about unless given); the
    response itself, not the page it redirects to."""
    data = {"action": action, "came_from": "/about", **form}
    return client.post(path, data=data, follow_redirects=False)


def ckan_ini(*, site_id: str, database: str, **options: str) -> str:
    """A minimal ini for running `ckan` in a subprocess: our plugin, the given database,
    no Solr, and CKAN's start-up logs going nowhere (only the command's own output shows;
    CKAN 2.11 reads the logging sections from every ini). `options` are more options."""
    lines = [f"{name} = {value}" for name, value in options.items()]
    return f"""[app:main]
use = egg:ckan
ckan.site_url = http://127.0.0.1:5000
ckan.site_id = {site_id}
sqlalchemy.url = {database}
SECRET_KEY = {site_id}-secret-key-of-32-bytes-or-more
solr_url = http://127.0.0.1:8983/solr/unused
ckan.plugins = cookieconsent
{chr(10).join(lines)}

[loggers]
keys = root
[handlers]
keys = null
[formatters]
keys =
[logger_root]
level = CRITICAL
handlers = null
[handler_null]
class = NullHandler
args = ()
"""
