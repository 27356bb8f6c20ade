"""Our webassets bundles: each kind of page includes only those it needs, once each, where
CKAN renders `{% asset %}` tags; their URLs are resolved once per process in production
(each request re-checked the bundles with `{% asset %}`), yet right; the CSS is served
minified."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
import webassets
from ckan.lib import webassets_tools
from helpers import EXAMPLE, PLUGIN_MARKS, choose, set_cookies

THEME = Path(__file__).resolve().parent / "assets_theme"
ASSETS = Path(__file__).resolve().parent.parent / "ckanext" / "cookieconsent" / "assets"
OURS = re.compile(r'<(script|link)\b[^>]*\b(?:src|href)="([^"]*/webassets/cookieconsent/[^"]*)"')
_BUNDLE = re.compile(r"/[0-9a-f]+_(cookieconsent[\w-]*)\.(js|css)")

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.ckan_config("extra_template_paths", str(THEME / "templates")),
]


def _ours(html: str) -> list[str]:
    """Our bundles in the page, in order, as `<name>.<js|css>`."""
    found = []
    for _, url in OURS.findall(html):
        match = _BUNDLE.search(url)
        assert match, f"not a production bundle URL: {url}"
        found.append(f"{match.group(1)}.{match.group(2)}")
    return found


def _chosen_client(app: Any, action: str = "accept_all") -> Any:
    client = app.test_client()
    response = choose(client, action)
    assert response.status_code == 303 and "cookies_preferences" in set_cookies(response)
    return client


def _parts(html: str) -> dict[str, list[str]]:
    """The bundles the page's settings carry for the script to load, as `<name>.<js|css>`."""
    match = re.search(r'id="cookieconsent-settings">(.*?)</script>', html, re.DOTALL)
    assert match, "no settings in the page"
    parts: dict[str, list[str]] = json.loads(match.group(1))["parts"]
    return {
        part: [m.group(1) + "." + m.group(2) for m in map(_BUNDLE.search, urls) if m]
        for part, urls in parts.items()
    }


def test_first_visit_loads_the_banner_bundles_only(app: Any) -> None:
    html = app.test_client().get("/user/login").body
    assert _ours(html) == [
        "cookieconsent.css",
        "cookieconsent.js",
    ], "a first visit: the banner's CSS, then the core; nothing else"
    head, body = html.split("</head>", 1)
    assert "cookieconsent.css" in head, "the banner's style sheet is in the head"
    settings = body.index('id="cookieconsent-settings"')
    assert all(body.index(url) > settings for kind, url in OURS.findall(body) if kind == "script")
    parts = _parts(html)
    assert parts["forms"] == ["cookieconsent-forms.js"], "the forms' script, loaded on intent"
    assert parts["dialog"] == ["cookieconsent-dialog.css", "cookieconsent-dialog.js"], (
        "the dialog's bundles, less the style sheet the page has"
    )


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
def test_the_bottom_banner_has_the_forms_script_at_once(app: Any) -> None:
    """It measures the banner at once, for the room the page keeps for it."""
    html = app.test_client().get("/user/login").body
    assert _ours(html) == [
        "cookieconsent.css",
        "cookieconsent-bottom.css",
        "cookieconsent-forms.js",
        "cookieconsent.js",
    ]
    assert "forms" not in _parts(html), "nothing to load: the page has it"


def test_with_a_choice_made_only_the_core_script(app: Any) -> None:
    html = _chosen_client(app).get("/user/login").body
    assert "cookieconsent-banner" not in html
    assert _ours(html) == ["cookieconsent.js"], "no banner: no CSS, no forms' script"
    assert "forms" not in _parts(html), "no banner: no forms' script to load"


def test_the_policy_page_loads_its_own_bundles(app: Any) -> None:
    html = app.test_client().get("/cookies").body
    assert _ours(html) == [
        "cookieconsent.css",
        "cookieconsent-policy.css",
        "cookieconsent-forms.js",
        "cookieconsent-policy.js",
        "cookieconsent.js",
    ]
    assert "forms" not in _parts(html), "the page has the forms' script"


def test_two_embeds_and_a_gated_script_include_their_bundles_once(app: Any) -> None:
    html = _chosen_client(app, "refuse_all").get("/about").body
    assert html.count('data-cookieconsent-embed="media"') == 2, "two placeholders"
    found = _ours(html)
    assert sorted(found) == sorted(
        [
            "cookieconsent.css",
            "cookieconsent-embed.css",
            "cookieconsent-forms.js",
            "cookieconsent-embed.js",
            "cookieconsent-gate.js",
            "cookieconsent.js",
        ]
    ), found
    assert found[-1] == "cookieconsent.js", "the core last: it takes up the parts before it"


def test_with_the_banner_and_an_embed_the_forms_script_comes_at_once(app: Any) -> None:
    """The embed's placeholder has a consent form of its own: the page includes the forms'
    script, which the core then has nothing to load for."""
    html = app.test_client().get("/about").body
    assert "cookieconsent-banner" in html and "data-cookieconsent-embed" in html
    assert "cookieconsent-forms.js" in _ours(html)
    assert "forms" not in _parts(html)


def test_an_allowed_embed_needs_its_style_sheet_only(app: Any) -> None:
    html = _chosen_client(app).get("/about").body
    assert 'class="cookieconsent-frame"' in html and "data-cookieconsent-embed" not in html
    assert _ours(html) == ["cookieconsent-embed.css", "cookieconsent.js"]


def test_the_dialog_bundles_travel_in_the_settings(app: Any) -> None:
    html = _chosen_client(app).get("/user/login").body
    match = re.search(r'id="cookieconsent-settings">(.*?)</script>', html, re.DOTALL)
    assert match
    urls = json.loads(match.group(1))["parts"]["dialog"]
    names = [m.group(1) + "." + m.group(2) for m in map(_BUNDLE.search, urls) if m]
    assert names == ["cookieconsent.css", "cookieconsent-dialog.css", "cookieconsent-dialog.js"]
    for url in urls:
        assert app.get(url).status_code == 200, url


def test_the_forms_script_of_the_settings_is_served(app: Any) -> None:
    html = app.test_client().get("/user/login").body
    match = re.search(r'id="cookieconsent-settings">(.*?)</script>', html, re.DOTALL)
    assert match
    (url,) = json.loads(match.group(1))["parts"]["forms"]
    response = app.get(url)
    assert response.status_code == 200, url
    assert '"forms"' in response.body, "the forms' part"


class _UrlsCalls:
    """Counts webassets' Bundle.urls calls for our bundles (the re-check `{% asset %}` does on
    each request), calling the real method."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = webassets.Bundle.urls

        def counted(bundle: Any, *args: Any, **kwargs: Any) -> Any:
            if any(str(ASSETS) in str(item) for item in bundle.contents):
                self.count += 1
            return real(bundle, *args, **kwargs)

        monkeypatch.setattr(webassets.Bundle, "urls", counted)


def _expected_urls(name: str) -> list[str]:
    """What CKAN's `include_asset` would put in the page for bundle `name`."""
    return [tk.h.url_for_static_or_external(url) for url in webassets_tools.env[name].urls()]


def test_bundle_urls_are_resolved_once_per_process_yet_right(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not webassets_tools.env.debug
    first = app.test_client().get("/user/login").body  # resolves (or has resolved) them
    app.test_client().get("/cookies")
    calls = _UrlsCalls(monkeypatch)
    client = app.test_client()
    again = client.get("/user/login").body
    policy = client.get("/cookies").body
    assert calls.count == 0, "no bundle re-checked once resolved"
    assert _ours(again) == _ours(first)
    with app.flask_app.test_request_context("/user/login"):
        for name in ("cookieconsent/cookieconsent-js", "cookieconsent/cookieconsent-policy-css"):
            for url in _expected_urls(name):
                assert url in policy, f"{name}: {url} as CKAN's include_asset gives it"


def test_in_debug_mode_bundles_are_resolved_on_every_request(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.test_client().get("/user/login")
    monkeypatch.setattr(webassets_tools.env, "debug", True)
    calls = _UrlsCalls(monkeypatch)
    html = app.test_client().get("/user/login").body
    assert calls.count > 0, "debug mode: resolved again, as CKAN does"
    with app.flask_app.test_request_context("/user/login"):
        expected = _expected_urls("cookieconsent/cookieconsent-js")
    assert expected and all(url in html for url in expected), "the URLs of debug mode"


def test_css_is_served_minified(app: Any) -> None:
    html = app.test_client().get("/cookies").body
    urls = [url for kind, url in OURS.findall(html) if kind == "link"]
    assert len(urls) == 2
    sources = {"cookieconsent": "cookieconsent.css", "cookieconsent-policy": "policy.css"}
    for url in urls:
        served = app.get(url).body
        name = _BUNDLE.search(url).group(1)  # type: ignore[union-attr]
        source = (ASSETS / "css" / sources[name]).read_text()
        assert "/*" not in served and "\n  " not in served, f"{url}: comments or indentation"
        assert len(served) < 0.8 * len(source), f"{url}: not minified"
        assert '[dir="rtl"]' in served or name != "cookieconsent", "RTL rule kept"
