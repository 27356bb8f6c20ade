"""The read-only actions: over HTTP (GET and POST) and through call_action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests.helpers import call_action
from helpers import EXAMPLE, PLUGIN_MARKS

API = "/api/3/action/"

pytestmark = PLUGIN_MARKS


def _get(app: Any, action: str, status: int = 200, **params: str) -> Any:
    response = app.get(API + action, query_string=params, status=status)
    return response.json


def _post(app: Any, action: str, status: int = 200, **params: str) -> Any:
    response = app.post(API + action, json=params, status=status)
    return response.json


# --- cookieconsent_cookie_list -----------------------------------------------------


def test_cookie_list_through_call_action_lists_the_builtin_cookies() -> None:
    cookies = call_action("cookieconsent_cookie_list")
    assert [c["name"] for c in cookies] == [
        "ckan",
        "remember_token",
        "cookies_preferences",
        "htmx-*",
    ]
    session = cookies[0]
    assert session["category"] == "necessary"
    assert session["party"] == "first"
    assert session["duration"] == {"seconds": 31536000, "session": False, "text": "1 year"}
    assert session["service"] == "Authentication and form security"


@pytest.mark.ckan_config("SESSION_COOKIE_NAME", "portal_session")
@pytest.mark.ckan_config("REMEMBER_COOKIE_NAME", "portal_remember")
def test_cookie_list_follows_the_configured_cookie_names() -> None:
    names = [c["name"] for c in call_action("cookieconsent_cookie_list")]
    assert names[:2] == ["portal_session", "portal_remember"]


@pytest.mark.parametrize("send", [_get, _post])
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_cookie_list_over_http_filters_by_category(app: Any, send: Any) -> None:
    body = send(app, "cookieconsent_cookie_list", category="statistics")
    assert body["success"] is True
    assert [c["name"] for c in body["result"]] == ["_pk_id.*", "_pk_ses.*"]
    assert all(c["pattern"] for c in body["result"])


@pytest.mark.parametrize("send", [_get, _post])
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_cookie_list_over_http_filters_by_party(app: Any, send: Any) -> None:
    body = send(app, "cookieconsent_cookie_list", party="third")
    assert {c["name"] for c in body["result"]} == {"YSC", "VISITOR_INFO1_LIVE", "PREF"}
    assert {c["domain"] for c in body["result"]} == {".youtube.com"}


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_cookie_list_combines_filters() -> None:
    assert call_action("cookieconsent_cookie_list", category="statistics", party="third") == []


@pytest.mark.parametrize(
    ("lang", "service", "duration"),
    [
        ("fr", "Authentification et sécurité des formulaires", "1\u00a0an"),  # CLDR's space
        ("en", "Authentication and form security", "1 year"),
    ],
)
def test_cookie_list_in_each_language(app: Any, lang: str, service: str, duration: str) -> None:
    first = _get(app, "cookieconsent_cookie_list", lang=lang)["result"][0]
    assert (first["service"], first["duration"]["text"]) == (service, duration)


def test_cookie_list_defaults_to_the_request_language(app: Any) -> None:
    french = app.get("/fr" + API + "cookieconsent_cookie_list").json["result"][0]
    assert french["service"] == "Authentification et sécurité des formulaires"


@pytest.mark.ckan_config("ckan.locale_default", "fr")
def test_cookie_list_defaults_to_the_portal_language_outside_a_request() -> None:
    first = call_action("cookieconsent_cookie_list")[0]
    assert first["service"] == "Authentification et sécurité des formulaires"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"colour": "red"}, "colour", "Unknown parameter. Expected one of: category, lang, party."),
        ({"category": "ads"}, "category", "Unknown category 'ads'. Expected one of: necessary,"),
        ({"party": "fourth"}, "party", "Unknown party 'fourth'. Expected one of: first, third."),
        ({"lang": "xx"}, "lang", "Unknown language 'xx'. Expected one of:"),
    ],
)
@pytest.mark.parametrize("send", [_get, _post])
def test_cookie_list_refuses_bad_parameters_with_409(
    app: Any, send: Any, params: dict[str, str], field: str, message: str
) -> None:
    body = send(app, "cookieconsent_cookie_list", status=409, **params)
    assert body["success"] is False
    assert body["error"]["__type"] == "Validation Error"
    assert body["error"][field][0].startswith(message)


def test_cookie_list_through_call_action_raises_validation_error() -> None:
    with pytest.raises(tk.ValidationError) as raised:
        call_action("cookieconsent_cookie_list", party="none")
    assert "party" in raised.value.error_dict


def test_results_are_copies_that_callers_may_change() -> None:
    call_action("cookieconsent_cookie_list")[0]["duration"]["text"] = "changed"
    assert call_action("cookieconsent_cookie_list")[0]["duration"]["text"] == "1 year"


# --- cookieconsent_category_list ---------------------------------------------------


@pytest.mark.parametrize("send", [_get, _post])
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_category_list_counts_cookies(app: Any, send: Any) -> None:
    categories = send(app, "cookieconsent_category_list")["result"]
    summary = [(c["id"], c["required"], c["exempt"], c["cookie_count"]) for c in categories]
    assert summary == [
        ("necessary", True, False, 4),
        ("statistics", False, True, 2),
        ("media", False, False, 3),
    ]
    assert categories[1]["title"] == "Audience measurement"


def test_category_list_in_french(app: Any) -> None:
    categories = _get(app, "cookieconsent_category_list", lang="fr")["result"]
    assert [c["title"] for c in categories] == [
        "Strictement nécessaires",
        "Mesure d'audience",
        "Contenus tiers",
    ]


def test_category_list_refuses_unknown_parameters(app: Any) -> None:
    body = _get(app, "cookieconsent_category_list", status=409, category="necessary")
    assert body["error"]["category"] == ["Unknown parameter. Expected one of: lang."]


# --- cookieconsent_policy_show -----------------------------------------------------


@pytest.mark.parametrize("send", [_get, _post])
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.ckan_config("ckanext.cookieconsent.cookie_name", "consent")
@pytest.mark.ckan_config("ckanext.cookieconsent.cookie_max_age", "86400")
def test_policy_show_gives_revision_cookie_and_categories(app: Any, send: Any) -> None:
    policy = send(app, "cookieconsent_policy_show", lang="fr")["result"]
    assert len(policy["revision"]) == 8
    assert policy["updated"] == "2026-11-29"
    assert policy["language"] == "fr"
    assert policy["preferences_cookie"] == {"name": "consent", "max_age": 86400}
    media = policy["categories"][2]
    assert (media["id"], media["title"]) == ("media", "Contenus tiers")
    assert [c["name"] for c in media["cookies"]] == ["YSC", "VISITOR_INFO1_LIVE", "PREF"]
    preferences = policy["categories"][0]["cookies"][2]
    assert (preferences["name"], preferences["duration"]["text"]) == ("consent", "1\u00a0jour")


def test_policy_show_without_admin_file_has_no_update_date() -> None:
    assert call_action("cookieconsent_policy_show")["updated"] is None


# --- Access ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    ["cookieconsent_cookie_list", "cookieconsent_category_list", "cookieconsent_policy_show"],
)
def test_anonymous_visitors_may_read(app: Any, action: str) -> None:
    assert _get(app, action)["success"] is True
    assert tk.check_access(action, {"user": ""}, {}) is True


# --- Parsed once ------------------------------------------------------------------


def test_catalogue_is_read_at_start_up_not_per_request(tmp_path: Path, ckan_config: Any) -> None:
    path = tmp_path / "cookies.yaml"
    path.write_text("cookies: [{name: ckan, purpose: Before}]")
    ckan_config["ckanext.cookieconsent.catalogue"] = str(path)
    p.load_all()
    try:
        path.write_text("cookies: [{name: ckan, purpose: After}]")
        assert call_action("cookieconsent_cookie_list")[0]["purpose"] == "Before"
        path.write_text("cookies: [")  # broken now: requests are not affected
        assert call_action("cookieconsent_cookie_list")[0]["purpose"] == "Before"
    finally:
        p.unload_all()
