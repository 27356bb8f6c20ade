"""Gating on the server: the script and embed macros, and ckanext-googleanalytics' tag."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import render_template_string
from helpers import EXAMPLE, choose, set_cookie_headers

GTAG = "https://www.googletagmanager.com/gtag/js?id=G-TEST123"

pytestmark = [
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.usefixtures("with_plugins"),
]


def _render(app: Any, source: str, cookie: str = "", gpc: bool = False) -> str:
    headers = {"Cookie": cookie} if cookie else {}
    if gpc:
        headers["Sec-GPC"] = "1"
    with app.flask_app.test_request_context("/about", headers=headers):
        app.flask_app.preprocess_request()
        return render_template_string(
            "{% import 'cookieconsent/macros/gate.html' as gate %}" + source
        )


def _consent_cookie(app: Any, action: str = "accept_all") -> str:
    (header,) = set_cookie_headers(choose(app.test_client(), action), "cookies_preferences")
    return header.split(";")[0]


SCRIPT = (
    "{{ gate.script('media', src='/static/player.js', "
    "attrs={'async': true, 'nonce': 'n0nce', 'defer': false, 'id': 'player'}) }}"
)


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_script_is_inert_before_consent(app: Any) -> None:
    html = _render(app, SCRIPT)
    assert 'type="text/plain"' in html
    assert 'data-cookieconsent-category="media"' in html
    assert 'data-cookieconsent-src="/static/player.js"' in html
    assert ' src="' not in html
    assert " async" in html and 'nonce="n0nce"' in html and 'id="player"' in html
    assert "defer" not in html


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_script_is_live_once_allowed(app: Any) -> None:
    html = _render(app, SCRIPT, cookie=_consent_cookie(app))
    assert re.search(r'<script type="text/javascript" src="/static/player.js"[^>]* async', html)
    assert "text/plain" not in html


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_inline_script_keeps_its_body(app: Any) -> None:
    source = "{% call gate.script('media') %}window.loaded = true;{% endcall %}"
    inert = _render(app, source)
    assert 'type="text/plain"' in inert and "window.loaded = true;" in inert
    assert "data-cookieconsent-src" not in inert


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_exempt_category_runs_by_default_but_not_under_gpc(app: Any) -> None:
    source = "{{ gate.script('statistics', src='/matomo.js') }}"
    assert 'src="/matomo.js"' in _render(app, source)
    assert 'data-cookieconsent-src="/matomo.js"' in _render(app, source, gpc=True)


EMBED = (
    "{{ gate.embed('media', src='https://www.youtube-nocookie.com/embed/x', "
    "title='Launch video', provider='YouTube', width=640, height=360) }}"
)


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_embed_waits_behind_a_placeholder_of_the_same_size(app: Any) -> None:
    html = _render(app, EMBED)
    placeholder = html.split("<template>")[0]
    assert "<iframe" not in placeholder
    # Sized by an empty <svg> of the embed's size, not by an inline style (strict CSP).
    assert '<svg class="cookieconsent-embed__size" width="640" height="360"' in placeholder
    assert "style=" not in html
    assert "Launch video" in placeholder and "YouTube" in placeholder
    assert "Third-party content" in placeholder
    assert "Allow this once" in placeholder and "Always allow" in placeholder
    assert 'name="action" value="allow"' in placeholder
    assert '<template><iframe src="https://www.youtube-nocookie.com/embed/x"' in html


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_embed_is_an_iframe_once_allowed(app: Any) -> None:
    html = _render(app, EMBED, cookie=_consent_cookie(app))
    assert html.strip().startswith('<iframe src="https://www.youtube-nocookie.com/embed/x"')


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_embed_placeholder_in_french(app: Any) -> None:
    with app.flask_app.test_request_context("/fr/about", environ_base={"CKAN_LANG": "fr"}):
        app.flask_app.preprocess_request()
        html = render_template_string(
            "{% import 'cookieconsent/macros/gate.html' as gate %}" + EMBED
        )
    assert "Autoriser cette fois" in html and "Contenus tiers" in html


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
def test_always_allow_adds_one_category_to_the_choice(app: Any) -> None:
    client = app.test_client()
    assert choose(client, "refuse_all").status_code == 303
    assert choose(client, "allow", category="media").status_code == 303
    assert re.search(r'value="media"[^>]*checked', client.get("/cookies").body)
    bad = choose(client, "allow", category="necessary")
    assert bad.status_code == 400


# --- ckanext-googleanalytics, listed before or after cookieconsent --------------------
# Plugins listed earlier in ckan.plugins win the template lookup: the plugin moves its
# templates before ckanext-googleanalytics' at start-up, so both orders must gate.
# tests/test_googleanalytics.py checks the cookies it declares and the start-up checks.

ORDERS = [
    pytest.param(order, marks=pytest.mark.ckan_config("ckan.plugins", order), id=ident)
    for order, ident in [
        ("cookieconsent googleanalytics", "cookieconsent-first"),
        ("googleanalytics cookieconsent", "googleanalytics-first"),
    ]
]


@pytest.mark.parametrize("plugins", ORDERS)
@pytest.mark.ckan_config("googleanalytics.id", "G-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtag")
def test_googleanalytics_tag_waits_for_statistics(app: Any, plugins: str) -> None:
    client = app.test_client()
    assert choose(client, "refuse_all").status_code == 303
    before = client.get("/about").body
    assert f'data-cookieconsent-src="{GTAG}"' in before
    assert f'src="{GTAG}"' not in before.replace(f'data-cookieconsent-src="{GTAG}"', "")
    assert re.search(r'<script type="text/plain" data-cookieconsent-category="statistics"'
                     r'[^>]*>\s*window.dataLayer', before)  # fmt: skip
    assert choose(client, "accept_all").status_code == 303
    after = client.get("/about").body
    assert f'<script async src="{GTAG}"></script>' in after
    assert "data-cookieconsent-category" not in after


@pytest.mark.parametrize("plugins", ORDERS)
@pytest.mark.ckan_config("googleanalytics.id", "GTM-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtm")
def test_googleanalytics_tag_manager_noscript_frame_waits_too(app: Any, plugins: str) -> None:
    client = app.test_client()
    assert choose(client, "refuse_all").status_code == 303
    before = client.get("/about").body
    assert "googletagmanager.com/ns.html" not in before
    assert _types_of_scripts_loading("googletagmanager.com/gtm.js", before) == ["text/plain"]
    assert choose(client, "accept_all").status_code == 303
    after = client.get("/about").body
    assert "googletagmanager.com/ns.html" in after
    assert _types_of_scripts_loading("googletagmanager.com/gtm.js", after) == [None]


def _types_of_scripts_loading(url: str, html: str) -> list[str | None]:
    """The `type` of each <script> element whose code or src holds `url`."""
    scripts = re.finditer(r"<script([^>]*)>(.*?)</script>", html, re.S)
    return [
        (kind.group(1) if (kind := re.search(r'\btype="([^"]*)"', attrs)) else None)
        for attrs, body in (m.groups() for m in scripts)
        if url in attrs or url in body
    ]


@pytest.mark.parametrize("plugins", ORDERS)
@pytest.mark.ckan_config("googleanalytics.id", "G-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtag")
@pytest.mark.ckan_config("ckanext.cookieconsent.gate_googleanalytics", False)
def test_googleanalytics_gating_can_be_switched_off(app: Any, plugins: str) -> None:
    assert f'<script async src="{GTAG}"></script>' in app.get("/about").body
