"""Matomo on the server: its tag through the gate in both modes, its cookies in the
catalogue, and the start-up checks of its options (a real CKAN app and PostgreSQL; the
browser side, against a stub Matomo server, is in test_browser_matomo.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import ckan.plugins as plugins
import pytest
from ckan.exceptions import CkanConfigurationException
from helpers import EXAMPLE, choose, set_cookie_headers

from ckanext.cookieconsent import catalogue

BASE = "https://stats.example.org/matomo/"
SCRIPT = BASE + "matomo.js"

PLUGIN = pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
MATOMO = [
    PLUGIN,
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_url", BASE),
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_site_id", "7"),
]
# The example catalogue marks statistics exempt (and asks about media).
EXEMPT = [
    *MATOMO,
    pytest.mark.ckan_config("ckanext.cookieconsent.matomo_mode", "exempt"),
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
]


def _marks(marks: list[Any]) -> Any:
    def apply(test: Any) -> Any:
        for mark in marks:
            test = mark(test)
        return test

    return apply


def _about(app: Any, action: str | None = None, gpc: bool = False) -> str:
    """/about for a visitor who made no choice, or chose `action` in the banner."""
    client = app.test_client()
    if action is not None:
        (header,) = set_cookie_headers(choose(client, action), "cookies_preferences")
        client.set_cookie("cookies_preferences", header.split(";")[0].split("=", 1)[1])
    response = client.get("/about", headers={"Sec-GPC": "1"} if gpc else {})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _tag_script(html: str) -> str:
    """The opening tag of the <script> that loads matomo.js, live or inert."""
    found = re.findall(r"<script\b[^>]*matomo\.js[^>]*>", html)
    assert len(found) == 1, f"expected one script for matomo.js, found {found}"
    return found[0]


def _settings(html: str) -> dict[str, Any]:
    found = re.search(r"\}\)\((\{[^<]*\"tracker\"[^<]*\})\);", html)
    assert found, "no Matomo settings in the page"
    return json.loads(found.group(1))


def _live(html: str) -> bool:
    script = _tag_script(html)
    return f'src="{SCRIPT}"' in script and "text/plain" not in script


# --- The tag ------------------------------------------------------------------------------


@PLUGIN
@pytest.mark.usefixtures("with_plugins")
def test_no_tag_without_the_options(app: Any) -> None:
    assert "matomo" not in _about(app).lower()


@_marks(MATOMO)
@pytest.mark.usefixtures("with_plugins")
def test_consent_mode_is_inert_before_a_choice_and_after_a_refusal(app: Any) -> None:
    for action in (None, "refuse_all"):
        html = _about(app, action)
        script = _tag_script(html)
        assert 'type="text/plain"' in script and 'data-cookieconsent-category="statistics"' in (
            script
        )
        assert f'data-cookieconsent-src="{SCRIPT}"' in script, action
        assert f'src="{SCRIPT}"' not in script.replace("data-cookieconsent-src", ""), action
        # The commands wait too: no live script pushes to _paq.
        live = re.findall(r"<script(?![^>]*text/plain)[^>]*>([^<]*)</script>", html)
        assert not [body for body in live if "_paq" in body], action


@_marks(MATOMO)
@pytest.mark.usefixtures("with_plugins")
def test_consent_mode_is_live_once_allowed(app: Any) -> None:
    html = _about(app, "accept_all")
    assert _live(html)
    assert _settings(html) == {
        "tracker": BASE + "matomo.php",
        "siteId": "7",
        "category": "statistics",
        "exempt": False,
        "visitorCookieSeconds": 33955200,
        "cookieless": False,
        "optOutHours": 4320,  # 180 days, as long as the choice is kept
    }


@_marks(EXEMPT)
@pytest.mark.usefixtures("with_plugins")
def test_exempt_mode_runs_without_cookies_until_a_choice(app: Any) -> None:
    html = _about(app)
    assert _live(html), "exempt: on before any choice"
    settings = _settings(html)
    assert settings["exempt"] is True and settings["cookieless"] is True
    # The exemption's commands, in Matomo's own API names.
    for command in (
        '_paq.push(["setVisitorCookieTimeout", matomo.visitorCookieSeconds]);',
        '_paq.push(["disableCampaignParameters"]);',
        '_paq.push(["disableCookies"]);',
        '_paq.push(["optUserOut", matomo.optOutHours]);',
    ):
        assert command in html
    assert "setUserId" not in html

    kept = _settings(_about(app, "accept_all"))
    assert kept["exempt"] is True and kept["cookieless"] is False


@_marks(EXEMPT)
@pytest.mark.usefixtures("with_plugins")
def test_exempt_mode_stops_on_an_objection_and_under_gpc(app: Any) -> None:
    assert not _live(_about(app, "refuse_all"))
    assert not _live(_about(app, gpc=True))


# --- Cookies in the catalogue -----------------------------------------------------------------


@_marks(MATOMO)
@pytest.mark.usefixtures("with_plugins")
def test_matomo_cookies_are_declared_and_listed(app: Any) -> None:
    cookies = {c.name: c for c in catalogue.current().cookies}
    assert {
        name: (cookies[name].category, cookies[name].duration.count, cookies[name].duration.unit)
        for name in ("_pk_id.7.*", "_pk_ses.7.*", "_pk_ref.7.*", "mtm_consent_removed")
    } == {
        "_pk_id.7.*": ("statistics", 13, "month"),
        "_pk_ses.7.*": ("statistics", 30, "minute"),
        "_pk_ref.7.*": ("statistics", 6, "month"),
        # Matomo's memory of a refusal, as long as our cookie keeps the choice.
        "mtm_consent_removed": ("necessary", 6, "month"),
    }
    assert all(
        cookies[name].party == "first"
        and catalogue.translate(cookies[name].provider, "en") == "Matomo (stats.example.org)"
        for name in ("_pk_id.7.*", "_pk_ses.7.*", "_pk_ref.7.*", "mtm_consent_removed")
    )
    page = app.get("/cookies").get_data(as_text=True)
    assert "_pk_id.7.*" in page and "Matomo (stats.example.org)" in page
    # Visitors are now asked about statistics (it holds cookies).
    assert 'value="statistics"' in _about(app)


@_marks(EXEMPT)
@pytest.mark.usefixtures("with_plugins")
def test_the_portal_declaration_wins(app: Any) -> None:
    names = [c.name for c in catalogue.current().cookies]
    # The example declares _pk_id.* and _pk_ses.*: kept, not doubled; the rest added.
    assert "_pk_id.*" in names and "_pk_id.7.*" not in names
    assert "_pk_ses.*" in names and "_pk_ses.7.*" not in names
    assert "_pk_ref.7.*" in names and "mtm_consent_removed" in names


# --- Start-up checks ---------------------------------------------------------------------------


def _start_up_error() -> str:
    """Load the plugins as CKAN does at start-up; the error that stops it."""
    with pytest.raises(CkanConfigurationException) as raised:
        plugins.load_all()
    plugins.unload_all()
    return str(raised.value)


URL = "ckanext.cookieconsent.matomo_url"
SITE = "ckanext.cookieconsent.matomo_site_id"
MODE = "ckanext.cookieconsent.matomo_mode"
CATEGORY = "ckanext.cookieconsent.matomo_category"


@PLUGIN
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {URL: "stats.example.org", SITE: "1"},
            "ckanext.cookieconsent.matomo_url = 'stats.example.org' is not the base URL of a "
            "Matomo server: expected an http or https URL with a host and no query, such as "
            "https://stats.example.org/ (where matomo.js and matomo.php are).",
        ),
        (
            {URL: "https://stats.example.org/?idsite=1", SITE: "1"},
            "ckanext.cookieconsent.matomo_url = 'https://stats.example.org/?idsite=1' is not",
        ),
        (
            {URL: "https://stats.example.org/", SITE: "one"},
            "ckanext.cookieconsent.matomo_site_id = 'one' is not a Matomo site id: expected a "
            "positive integer, the id Matomo shows for this portal (Administration, Websites, "
            "Manage).",
        ),
        ({URL: "https://stats.example.org/", SITE: "0"}, f"{SITE} = '0' is not"),
        ({URL: "https://stats.example.org/"}, "ckanext.cookieconsent.matomo_site_id = '' is not"),
        ({SITE: "3"}, "ckanext.cookieconsent.matomo_url = '' is not the base URL"),
        (
            {URL: BASE, SITE: "1", MODE: "cookieless"},
            "ckanext.cookieconsent.matomo_mode = 'cookieless' is not a Matomo mode: expected "
            "`consent` (the tag waits for consent) or `exempt` (the CNIL's "
            "audience-measurement exemption).",
        ),
        (
            {URL: BASE, SITE: "1", CATEGORY: "analytics"},
            "ckanext.cookieconsent.matomo_category = 'analytics' is not a category of the "
            "cookie catalogue. Matomo's tag waits for this category: set it to one of the "
            "catalogue's optional categories: statistics, media.",
        ),
        (
            {URL: BASE, SITE: "1", CATEGORY: "necessary"},
            "ckanext.cookieconsent.matomo_category = 'necessary' is the strictly necessary "
            "category, which needs no consent.",
        ),
        (
            {URL: BASE, SITE: "1", MODE: "exempt"},
            "ckanext.cookieconsent.matomo_mode = exempt, but the catalogue's category "
            "'statistics' is not exempt: Matomo would then wait for a consent. Mark it "
            "`exempt: true` in the portal's catalogue (ckanext.cookieconsent.catalogue), or "
            "set ckanext.cookieconsent.matomo_mode = consent.",
        ),
        (
            {URL: BASE, SITE: "1", "ckanext.cookieconsent.catalogue": EXAMPLE},
            "ckanext.cookieconsent.matomo_mode = consent, but the catalogue's category "
            "'statistics' is exempt, on before any choice: Matomo would run without consent "
            "and without the exemption's settings. Set ckanext.cookieconsent.matomo_mode = "
            "exempt, or remove `exempt: true` from the category.",
        ),
    ],
    ids=[
        "url-without-scheme",
        "url-with-query",
        "site-id-not-a-number",
        "site-id-zero",
        "site-id-missing",
        "url-missing",
        "unknown-mode",
        "unknown-category",
        "necessary-category",
        "exempt-mode-needs-an-exempt-category",
        "consent-mode-refuses-an-exempt-category",
    ],
)
def test_wrong_options_stop_start_up(
    ckan_config: Any, monkeypatch: pytest.MonkeyPatch, options: dict[str, str], message: str
) -> None:
    for key, value in options.items():
        monkeypatch.setitem(ckan_config, key, value)
    assert _start_up_error().startswith(message)


@_marks(MATOMO)
def test_a_cookie_declared_in_another_category_stops_start_up(
    ckan_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    path = tmp_path / "cookies.yaml"
    path.write_text(
        "cookies:\n"
        "  - name: _pk_ses.*\n"
        "    category: media\n"
        "    provider: Matomo\n"
        "    service: Audience measurement\n"
        "    purpose: Group the pages seen during one visit.\n"
        "    duration: 30 minutes\n"
    )
    monkeypatch.setitem(ckan_config, "ckanext.cookieconsent.catalogue", str(path))
    assert _start_up_error() == (
        "The cookie catalogue declares Matomo's cookie '_pk_ses.7.*' (as '_pk_ses.*') in "
        "category 'media', but ckanext.cookieconsent.matomo_category = 'statistics': the tag "
        "sets it once 'statistics' is allowed. Declare it in 'statistics', or set "
        "ckanext.cookieconsent.matomo_category = media."
    )


@_marks(EXEMPT)
@pytest.mark.usefixtures("with_plugins")
def test_the_policy_describes_matomo_in_french(app: Any) -> None:
    page = app.get("/fr/cookies").get_data(as_text=True)
    assert "Mesure d'audience anonyme (adresses IP anonymisées)" in page.replace("&#39;", "'")
    assert "Retenir que vous avez refusé la mesure d" in page
