"""The ckanext-googleanalytics integration at start-up: template order, the cookies it
declares, and the configuration it refuses. The real extension, in both plugin orders.

tests/test_gating.py checks the tag itself (inert, then live) with the example catalogue;
tests/test_browser_googleanalytics.py checks what a browser requests from Google.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import ckan.plugins as plugins
import pytest
from ckan.exceptions import CkanConfigurationException
from helpers import VALUES

import ckanext.googleanalytics
from ckanext.cookieconsent import catalogue, googleanalytics

GTAG = "https://www.googletagmanager.com/gtag/js?id=G-TEST123"
TWO_YEARS = 2 * 365 * 86400
THEME = Path(__file__).resolve().parent / "gating_theme" / "templates"
OURS = Path(googleanalytics.__file__).resolve().parent / "templates"
THEIRS = Path(ckanext.googleanalytics.__file__).resolve().parent / "templates"

ORDERS = [
    pytest.param(order, marks=pytest.mark.ckan_config("ckan.plugins", order), id=ident)
    for order, ident in [
        ("cookieconsent googleanalytics", "cookieconsent-first"),
        ("googleanalytics cookieconsent", "googleanalytics-first"),
    ]
]


def _ga4(test: Any) -> Any:
    """ckanext-googleanalytics with a Google Analytics 4 id (gtag.js). Set per test: a
    module-level mark would win over a test's own for the same key."""
    test = pytest.mark.ckan_config("googleanalytics.id", "G-TEST123")(test)
    return pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtag")(test)


def _real(paths: list[str]) -> list[Path]:
    return [Path(os.path.realpath(path)) for path in paths]


def _start_up_error() -> str:
    """Load the plugins as CKAN does at start-up; the error that stops it."""
    with pytest.raises(CkanConfigurationException) as raised:
        plugins.load_all()
    plugins.unload_all()  # all at once: nothing half-loaded is configured again
    return str(raised.value)


# --- Template order ------------------------------------------------------------------------


@_ga4
@pytest.mark.parametrize("plugins_", ORDERS)
@pytest.mark.ckan_config("extra_template_paths", str(THEME))
@pytest.mark.usefixtures("with_plugins")
def test_our_templates_come_after_the_admin_theme_and_before_googleanalytics(
    ckan_config: Any, plugins_: str
) -> None:
    paths = _real(ckan_config["computed_template_paths"])
    assert paths[0] == THEME, "the admin's theme must stay first"
    assert paths.index(OURS) + 1 == paths.index(THEIRS)


@_ga4
@pytest.mark.parametrize("plugins_", ORDERS)
@pytest.mark.ckan_config("extra_template_paths", str(THEME))
@pytest.mark.usefixtures("with_plugins")
def test_tag_waits_for_consent_under_an_admin_theme(app: Any, plugins_: str) -> None:
    """The theme extends page.html too: the tag is still gated, the theme still applies."""
    body = app.get("/about").body
    assert 'id="gating-probe"' in body  # the theme's own page.html is in use
    assert f'data-cookieconsent-src="{GTAG}"' in body
    assert f' src="{GTAG}"' not in body


@_ga4
@pytest.mark.parametrize("plugins_", ORDERS)
@pytest.mark.ckan_config("extra_template_paths", str(THEIRS))
@pytest.mark.usefixtures("ckan_config")
def test_googleanalytics_templates_listed_by_the_admin_stop_start_up(plugins_: str) -> None:
    """An ini that puts ckanext-googleanalytics' templates in extra_template_paths: ours
    cannot go before them without going before the admin's own directories."""
    message = _start_up_error()
    assert message.startswith("extra_template_paths lists ckanext-googleanalytics' templates")
    assert str(THEIRS) in message and "Remove that directory from extra_template_paths" in message


# --- The cookies declared for it ---------------------------------------------------------------


@_ga4
@pytest.mark.parametrize("plugins_", ORDERS)
@pytest.mark.usefixtures("with_plugins")
def test_ga_cookies_are_declared_in_statistics_and_asked_for(app: Any, plugins_: str) -> None:
    """With only the built-in catalogue, statistics holds no cookie but Google's: without
    them it would not be shown, nobody could allow it, and the tag would never run.
    (Read from the catalogue, not the API: ckanext-googleanalytics reports API calls to
    Google from the server, which would leave loopback.)"""
    cookies = [catalogue.api_cookie(c, "en") for c in catalogue.current().cookies]
    cookies = [c for c in cookies if c["category"] == "statistics"]
    assert [c["name"] for c in cookies] == ["_ga", "_ga_TEST123"]
    for cookie in cookies:
        assert cookie["provider"] == "Google (Google Analytics)"
        assert (cookie["party"], cookie["location"], cookie["pattern"]) == ("first", "front", False)
        assert cookie["duration"]["seconds"] == TWO_YEARS
        assert cookie["duration"]["text"] == "2 years"

    client = app.test_client()
    about = client.get("/about").body
    assert 'id="cookieconsent-banner"' in about
    assert 'name="granted" value="statistics"' in about  # visitors are asked about it
    client.post("/cookies/consent", data={"action": "accept_all"})
    assert f'<script async src="{GTAG}"></script>' in client.get("/about").body


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "googleanalytics cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_ga_cookies_are_described_in_french_and_english(app: Any) -> None:
    texts = {
        lang: {
            c["name"]: (c["service"], c["purpose"], c["duration"]["text"])
            for c in (catalogue.api_cookie(k, lang) for k in catalogue.current().cookies)
        }
        for lang in ("en", "fr")
    }
    assert texts["en"]["_ga"][0] == "Audience measurement"
    assert texts["fr"]["_ga"][0] == "Mesure d'audience"
    assert texts["en"]["_ga"][1].startswith("Tell visitors apart")
    assert texts["fr"]["_ga"][1].startswith("Distinguer les visiteurs")
    assert texts["en"]["_ga_TEST123"][1].startswith("Keep the state of your current visit")
    assert texts["fr"]["_ga_TEST123"][1].startswith("Conserver l'état de la visite")
    assert texts["fr"]["_ga_TEST123"][2] == "2 ans"
    policy = app.get("/fr/cookies").body
    assert "_ga_TEST123" in policy and "Google (Google Analytics)" in policy
    assert "Conserver l&#39;état de la visite" in policy or "Conserver l'état" in policy


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "googleanalytics cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.googleanalytics_category", "media")
@pytest.mark.usefixtures("with_plugins")
def test_ga_cookies_go_to_the_chosen_category(app: Any) -> None:
    client = app.test_client()
    about = client.get("/about").body
    assert 'data-cookieconsent-category="media"' in about
    names = {c.name: c.category for c in catalogue.current().cookies}
    assert (names["_ga"], names["_ga_TEST123"]) == ("media", "media")


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "googleanalytics cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.gate_googleanalytics", False)
@pytest.mark.usefixtures("with_plugins")
def test_nothing_is_declared_when_gating_is_off(app: Any) -> None:
    assert all(not c.name.startswith("_ga") for c in catalogue.current().cookies)


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_nothing_is_declared_without_googleanalytics(app: Any) -> None:
    assert all(not c.name.startswith("_ga") for c in catalogue.current().cookies)
    assert 'id="cookieconsent-banner"' not in app.get("/about").body


# The same hook as at start-up, on catalogue files of the admin's (ckan_config sets the
# options both extensions read).


def _load(tmp_path: Path, content: str = "") -> catalogue.Catalogue:
    path = tmp_path / "cookies.yaml"
    path.write_text(textwrap.dedent(content), encoding="utf-8")
    return catalogue.load(str(path), VALUES, googleanalytics.cookies_to_declare)


def _declared(name: str, purpose: str = "Our own words", duration: str = "13 months") -> str:
    """A catalogue entry of Google's `name` cookie, as an admin writes it."""
    return (
        f"  - name: {name}\n    category: statistics\n    provider: Google\n"
        f"    service: Statistics\n    purpose: {purpose}\n    duration: {duration}\n"
    )


def _by_name(loaded: catalogue.Catalogue) -> dict[str, catalogue.Cookie]:
    return {c.name: c for c in loaded.cookies}


@_ga4
@pytest.mark.usefixtures("ckan_config")
def test_the_admin_declaration_wins(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "cookies:\n" + _declared("_ga") + _declared("_ga_*"))
    cookies = _by_name(loaded)
    assert [n for n in cookies if n.startswith("_ga")] == ["_ga", "_ga_*"]
    assert catalogue.translate(cookies["_ga"].purpose, "en") == "Our own words"


@_ga4
@pytest.mark.usefixtures("ckan_config")
def test_an_admin_pattern_covers_both_cookies(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "cookies:\n" + _declared("_ga*", "Google Analytics", "2 years"))
    assert [n for n in _by_name(loaded) if n.startswith("_ga")] == ["_ga*"]


@_ga4
@pytest.mark.usefixtures("ckan_config")
def test_only_the_missing_cookie_is_added(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "cookies:\n" + _declared("_ga"))
    cookies = _by_name(loaded)
    assert catalogue.translate(cookies["_ga"].purpose, "en") == "Our own words"
    assert cookies["_ga_TEST123"].provider["en"] == "Google (Google Analytics)"


@_ga4
@pytest.mark.usefixtures("ckan_config")
def test_declared_cookies_count_in_the_revision() -> None:
    """Adding Google's cookies changes what visitors consent to: they are asked again."""
    without = catalogue.load("", VALUES)
    with_ga = catalogue.load("", VALUES, googleanalytics.cookies_to_declare)
    assert without.revision != with_ga.revision


@pytest.mark.ckan_config("googleanalytics.id", "GTM-TEST123")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "gtm")
@pytest.mark.usefixtures("ckan_config")
def test_tag_manager_gets_a_pattern(tmp_path: Path) -> None:
    """A container's measurement ids are not in the configuration: `_ga_*`."""
    cookies = _by_name(_load(tmp_path))
    assert cookies["_ga_*"].is_pattern and cookies["_ga_*"].matches("_ga_ABC123")
    assert "_ga" in cookies


@pytest.mark.ckan_config("googleanalytics.id", "UA-1234-1")
@pytest.mark.ckan_config("googleanalytics.tracking_mode", "ga")
@pytest.mark.usefixtures("ckan_config")
def test_universal_analytics_cookies(tmp_path: Path) -> None:
    cookies = _by_name(_load(tmp_path))
    assert [n for n in cookies if n.startswith("_g")] == ["_ga", "_gid", "_gat"]
    assert (cookies["_gid"].duration.seconds, cookies["_gat"].duration.seconds) == (86400, 60)


# --- Start-up refuses a category nobody could be asked about -------------------------------


@_ga4
@pytest.mark.parametrize("plugins_", ORDERS)
@pytest.mark.ckan_config("ckanext.cookieconsent.googleanalytics_category", "analytics")
@pytest.mark.usefixtures("ckan_config")
def test_unknown_category_stops_start_up(plugins_: str) -> None:
    assert _start_up_error() == (
        "ckanext.cookieconsent.googleanalytics_category = 'analytics' is not a category of "
        "the cookie catalogue. Google Analytics' tag waits for this category: set it to one "
        "of the catalogue's optional categories: statistics, media."
    )


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "googleanalytics cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.googleanalytics_category", "necessary")
@pytest.mark.usefixtures("ckan_config")
def test_required_category_stops_start_up() -> None:
    message = _start_up_error()
    assert message.startswith(
        "ckanext.cookieconsent.googleanalytics_category = 'necessary' is the strictly "
        "necessary category, which needs no consent."
    )
    assert message.endswith("optional categories: statistics, media.")


@_ga4
@pytest.mark.ckan_config("ckanext.cookieconsent.googleanalytics_category", "media")
@pytest.mark.usefixtures("ckan_config")
def test_ga_cookie_declared_in_another_category_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CkanConfigurationException) as raised:
        _load(tmp_path, "cookies:\n" + _declared("_ga", "Google Analytics", "2 years"))
    assert str(raised.value) == (
        "The cookie catalogue declares Google Analytics' cookie '_ga' (as '_ga') in "
        "category 'statistics', but ckanext.cookieconsent.googleanalytics_category = "
        "'media': the tag sets it once 'media' is allowed. Declare it in 'media', or set "
        "ckanext.cookieconsent.googleanalytics_category = statistics."
    )


# --- Google Consent Mode: the option is checked at start-up ---------------------------------


@_ga4
@pytest.mark.ckan_config("ckan.plugins", "cookieconsent googleanalytics")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "analytics_storage=ads",
            "ckanext.cookieconsent.consent_mode: analytics_storage=ads: 'ads' is not an "
            "optional category of the cookie catalogue: one of media, statistics.",
        ),
        (
            "analytics_storage=necessary",
            "ckanext.cookieconsent.consent_mode: analytics_storage=necessary: 'necessary' is "
            "not an optional category of the cookie catalogue: one of media, statistics.",
        ),
        (
            "functionality_storage=statistics",
            "ckanext.cookieconsent.consent_mode: 'functionality_storage=statistics' is not "
            "signal=category with a signal among ad_storage, ad_user_data, "
            "ad_personalization, analytics_storage",
        ),
        (
            "analytics_storage",
            "ckanext.cookieconsent.consent_mode: 'analytics_storage' is not signal=category "
            "with a signal among ad_storage, ad_user_data, ad_personalization, "
            "analytics_storage",
        ),
    ],
)
def test_a_wrong_consent_mode_option_stops_start_up(
    ckan_config: Any, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setitem(ckan_config, "ckanext.cookieconsent.consent_mode", value)
    assert _start_up_error() == message
