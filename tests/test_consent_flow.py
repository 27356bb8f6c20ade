"""The banner, the consent endpoint and the policy page, through CKAN's app."""

from __future__ import annotations

import re
import time
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
from helpers import EXAMPLE, PLUGIN_MARKS, set_cookie_headers, set_cookies
from helpers import choose as _choose

from ckanext.cookieconsent import catalogue, config, consent

BANNER = 'id="cookieconsent-banner"'

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
]


def _stored(response: Any) -> consent.Choice | None:
    value = set_cookies(response)["cookies_preferences"].value
    return consent.parse(
        value,
        catalogue.current(),
        consent.signing_key(tk.config.get("SECRET_KEY")),
        config.cookie_max_age(),
    )


# --- The banner -------------------------------------------------------------------


def test_first_visit_shows_the_banner_with_three_equal_actions(app: Any) -> None:
    body = app.get("/about").body
    assert BANNER in body
    skip = body.index('href="#content"')
    assert skip < body.index(BANNER) < body.index("<header")
    banner = body[body.index(BANNER) :]
    for label in ("Accept all", "Reject all", "Customise"):
        assert 'class="cookieconsent-button"' in banner and label in banner
    assert 'href="/cookies"' in banner
    assert 'name="_csrf_token"' in banner
    assert 'name="came_from" value="/about"' in banner


@pytest.mark.parametrize(("path", "where"), [("/about", "banner"), ("/cookies", "policy")])
def test_accept_and_reject_buttons_carry_the_names_auditors_look_for(
    app: Any, path: str, where: str
) -> None:
    """The EDPB taskforce's wording, "Reject all", and ids/classes with accept-all /
    reject-all, on the banner and on the policy page."""
    body = app.get(path).body
    for kind, value, label in (("accept", "accept_all", "Accept all"),
                               ("reject", "refuse_all", "Reject all")):  # fmt: skip
        button = re.search(
            rf'<button[^>]*id="cookieconsent-{where}-{kind}-all"[^>]*>\s*([^<]*?)\s*</button>',
            body,
        )
        assert button is not None, f"no #cookieconsent-{where}-{kind}-all"
        assert f'value="{value}"' in button.group(0)
        assert f"cookieconsent-{kind}-all" in button.group(0).split('class="')[1]
        assert button.group(1) == label


def test_switches_start_off_except_required_and_exempt(app: Any) -> None:
    body = app.get("/about").body
    switches = dict(
        re.findall(r'value="(\w+)"[^>]*data-cookieconsent-category="\w+"([^>]*)>', body)
    )
    assert "checked disabled" in switches["necessary"]
    assert "checked" in switches["statistics"]  # exempt: on, with its opt-out
    assert "checked" not in switches["media"]


@pytest.mark.ckan_config("ckanext.cookieconsent.position", "bottom")
def test_banner_position_is_configurable(app: Any) -> None:
    assert "cookieconsent-banner--bottom" in app.get("/about").body


def test_banner_in_french(app: Any) -> None:
    body = app.get("/fr/about").body
    for label in ("Tout accepter", "Tout refuser", "Personnaliser", "Gestion des cookies"):
        assert label in body
    assert 'name="came_from" value="/fr/about"' in body


@pytest.mark.ckan_config("ckanext.cookieconsent.banner_title.fr", "Vos cookies sur DataSud")
def test_banner_texts_can_be_replaced_per_language(app: Any) -> None:
    assert "Vos cookies sur DataSud" in app.get("/fr/about").body
    assert "Vos cookies sur DataSud" not in app.get("/about").body


def test_footer_links_to_the_policy_on_every_page(app: Any) -> None:
    for path in ("/about", "/user/login", "/cookies"):
        assert '<a href="/cookies" data-cookieconsent-open>Cookies</a>' in app.get(path).body


# --- Making a choice ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "form", "granted"),
    [
        ("accept_all", {}, {"statistics", "media"}),
        ("refuse_all", {"granted": ["media"]}, set()),
        ("save", {"granted": ["media"]}, {"media"}),
        ("save", {"granted": ["statistics", "necessary", "ads"]}, {"statistics"}),
    ],
)
def test_each_choice_sets_the_cookie_and_redirects_back(
    app: Any, action: str, form: dict[str, Any], granted: set[str]
) -> None:
    response = _choose(app.test_client(), action, **form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/about")
    cookie = set_cookies(response)["cookies_preferences"]
    assert cookie["max-age"] == "15552000"
    assert cookie["path"] == "/"
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"] and not cookie["httponly"]
    stored = _stored(response)
    assert stored is not None and stored.granted == granted


def test_after_a_choice_the_banner_is_gone(app: Any) -> None:
    client = app.test_client()
    _choose(client, "refuse_all")
    assert BANNER not in client.get("/about").body


def test_cookie_is_secure_over_https(app: Any) -> None:
    client = app.test_client()
    response = client.post(
        "/cookies/consent",
        data={"action": "accept_all"},
        base_url="https://test.ckan.net",
        follow_redirects=False,
    )
    assert set_cookies(response)["cookies_preferences"]["secure"]


@pytest.mark.ckan_config("ckan.site_url", "https://portal.example")
def test_cookie_is_secure_when_the_public_url_is_https_behind_a_plain_http_proxy(
    app: Any,
) -> None:
    """A TLS-terminating proxy passes plain http: the public URL decides `Secure`.
    (The real nginx and chromium flow is in test_browser_proxy.py.)"""
    response = _choose(app.test_client(), "accept_all")
    assert set_cookies(response)["cookies_preferences"]["secure"]


def test_cookie_is_not_secure_on_a_plain_http_portal(app: Any) -> None:
    assert not set_cookies(_choose(app.test_client(), "accept_all"))["cookies_preferences"][
        "secure"
    ]


@pytest.mark.ckan_config("ckanext.cookieconsent.cookie_name", "consent")
@pytest.mark.ckan_config("ckanext.cookieconsent.cookie_max_age", "3600")
def test_cookie_name_and_lifetime_are_configurable(app: Any) -> None:
    cookie = set_cookies(_choose(app.test_client(), "accept_all"))["consent"]
    assert cookie["max-age"] == "3600"


def test_enhanced_form_gets_json(app: Any) -> None:
    response = app.test_client().post(
        "/cookies/consent",
        data={"action": "save", "granted": "media"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json["choice"]["categories"] == {
        "necessary": True,
        "statistics": False,
        "media": True,
    }
    assert "cookies_preferences" in set_cookies(response)


def test_unknown_action_is_refused(app: Any) -> None:
    response = _choose(app.test_client(), "accept_everything")
    assert response.status_code == 400
    assert "Unknown choice" in response.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F/evil.example",
        "%2F%2Fevil.example",
        "/%252F/evil.example",
        "/\t/evil.example",
        "http:/evil.example",
        "about",
        "",
    ],
)
def test_hostile_return_targets_land_on_the_policy_page(app: Any, target: str) -> None:
    response = _choose(app.test_client(), "refuse_all", came_from=target)
    assert response.status_code == 303
    assert response.headers["Location"] in ("/cookies", "http://test.ckan.net/cookies")


def test_a_same_site_path_with_query_is_kept(app: Any) -> None:
    response = _choose(app.test_client(), "refuse_all", came_from="/fr/about?x=1#top")
    assert response.headers["Location"].endswith("/fr/about?x=1#top")


# --- Stale, malformed, forged and oversized cookies bring the banner back ------------------


def _page_with(app: Any, value: str) -> Any:
    client = app.test_client()
    client.set_cookie("cookies_preferences", value, domain="test.ckan.net")
    return client.get("/about")


def _signed(payload: str) -> str:
    key = consent.signing_key(tk.config.get("SECRET_KEY"))
    return f"{payload}:{consent._sign(payload, key)}"


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("stale revision", lambda rev: _signed(f"1:0ld0ld00:{int(time.time())}:{'A' * 16}:media")),
        ("malformed", lambda rev: "1:2:3"),
        ("forged", lambda rev: f"1:{rev}:{int(time.time())}:{'A' * 16}:media:forgedsignature0"),
        ("oversized", lambda rev: _signed(f"1:{rev}:{int(time.time())}:{'A' * 16}:media")
                                  + "x" * 600),
    ],
)  # fmt: skip
def test_bad_preferences_cookie_brings_the_banner_back(app: Any, label: str, make: Any) -> None:
    revision = catalogue.current().revision
    valid = _signed(f"1:{revision}:{int(time.time())}:{'A' * 16}:media")
    assert BANNER not in _page_with(app, valid).body
    response = _page_with(app, make(revision))
    assert response.status_code == 200, label
    assert BANNER in response.body, label


# --- CSRF and cross-site requests ----------------------------------------------------------


@pytest.mark.ckan_config("WTF_CSRF_ENABLED", True)
def test_post_without_csrf_token_is_refused(app: Any) -> None:
    client = app.test_client()
    client.get("/about")  # a session exists, as for any visitor who saw the banner
    response = _choose(client, "accept_all")
    assert response.status_code == 400
    assert "cookies_preferences" not in set_cookies(response)


@pytest.mark.ckan_config("WTF_CSRF_ENABLED", True)
def test_post_with_a_wrong_csrf_token_is_refused(app: Any) -> None:
    client = app.test_client()
    client.get("/about")
    response = _choose(client, "accept_all", _csrf_token="IjAwMDAi.forged.token")
    assert response.status_code == 400


@pytest.mark.ckan_config("WTF_CSRF_ENABLED", True)
def test_post_with_the_page_csrf_token_is_accepted(app: Any) -> None:
    client = app.test_client()
    body = client.get("/about").body
    token = re.search(r'name="_csrf_token" value="([^"]+)"', body).group(1)  # type: ignore[union-attr]
    response = _choose(client, "accept_all", _csrf_token=token)
    assert response.status_code == 303
    assert "cookies_preferences" in set_cookies(response)


@pytest.mark.ckan_config("WTF_CSRF_ENABLED", True)
@pytest.mark.parametrize("header", ["X-CSRFToken", "X-CSRF-Token"])
def test_both_csrf_headers_ckan_accepts_are_read(app: Any, header: str) -> None:
    client = app.test_client()
    body = client.get("/about").body
    token = re.search(r'name="_csrf_token" value="([^"]+)"', body).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/cookies/consent", data={"action": "accept_all"}, headers={header: token},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert "cookies_preferences" in set_cookies(response)


@pytest.mark.ckan_config("ckan.site_url", "https://portal.example:8443")
@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://portal.example:8443", 303),  # the public origin, through the proxy
        ("http://test.ckan.net", 303),  # the origin the request arrived on
        ("https://portal.example", 403),  # another port
        ("http://portal.example:8443", 403),  # another scheme
        ("https://evil.portal.example:8443", 403),  # a sibling
        ("null", 403),
    ],
)
def test_origin_may_be_the_public_one_or_the_request_s_own(
    app: Any, origin: str, status: int
) -> None:
    response = app.test_client().post(
        "/cookies/consent", data={"action": "accept_all"}, headers={"Origin": origin},
        base_url="http://test.ckan.net", follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == status


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
     {"Sec-Fetch-Site": "same-site"}],
)  # fmt: skip
def test_cross_site_posts_are_refused(app: Any, headers: dict[str, str]) -> None:
    response = app.test_client().post(
        "/cookies/consent", data={"action": "accept_all"}, headers=headers,
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 403
    assert "cookies_preferences" not in set_cookies(response)


# --- Refusal honoured on the server ---------------------------------------------------------


def test_refusal_deletes_the_refused_cookies_the_request_carries(app: Any) -> None:
    client = app.test_client()
    for name in ("_pk_id.1.abcd", "_pk_ses.1.abcd", "YSC", "ckan_unrelated"):
        client.set_cookie(name, "x", domain="test.ckan.net")
    response = _choose(client, "save", granted=["media"])
    expired = {
        name: morsel for name, morsel in set_cookies(response).items()
        if morsel["max-age"] == "0" or "1970" in morsel["expires"]
    }  # fmt: skip
    assert set(expired) == {"_pk_id.1.abcd", "_pk_ses.1.abcd"}
    assert expired["_pk_id.1.abcd"]["path"] == "/"


def test_withdrawal_deletes_the_third_party_cookie_on_its_domain_too(app: Any) -> None:
    client = app.test_client()
    _choose(client, "accept_all")
    client.set_cookie("YSC", "x", domain="test.ckan.net")
    headers = set_cookie_headers(_choose(client, "refuse_all"), "YSC")
    assert any("Domain=.youtube.com" in h or "Domain=youtube.com" in h for h in headers)
    assert any("Domain" not in h for h in headers)


# --- Global Privacy Control --------------------------------------------------------------


def test_gpc_counts_as_refusal_and_hides_the_banner(app: Any) -> None:
    client = app.test_client()
    headers = {"Sec-GPC": "1"}
    assert BANNER not in client.get("/about", headers=headers).body
    policy = client.get("/cookies", headers=headers).body
    assert "Global Privacy Control" in policy
    assert 'value="statistics"' in policy and 'value="media"' in policy
    switches = re.findall(r'value="(statistics|media)"[^>]*?(checked)?>', policy)
    assert all(not checked for _, checked in switches)


def test_gpc_visitor_can_still_opt_in(app: Any) -> None:
    client = app.test_client()
    response = client.post(
        "/cookies/consent", data={"action": "save", "granted": "media"},
        headers={"Sec-GPC": "1"}, follow_redirects=False,
    )  # fmt: skip
    stored = _stored(response)
    assert stored is not None and stored.granted == {"media"}


@pytest.mark.ckan_config("ckanext.cookieconsent.honor_gpc", False)
def test_gpc_can_be_ignored_by_configuration(app: Any) -> None:
    assert BANNER in app.get("/about", headers={"Sec-GPC": "1"}).body


# --- The policy page --------------------------------------------------------------------


def test_policy_page_lists_every_cookie_with_its_columns(app: Any) -> None:
    body = app.get("/cookies").body
    for heading in ("Provider", "Service and location", "Cookie name", "Purpose", "Duration",
                    "Party"):  # fmt: skip
        assert re.search(f'<th scope="col"[^>]*>{heading}</th>', body), heading
    for name in ("ckan", "remember_token", "cookies_preferences", "_pk_id.*", "YSC", "PREF"):
        assert f"<code>{name}</code>" in body
    assert "13 months" in body and "Third party" in body and "front office" in body
    assert "You have not made a choice yet" in body


def test_policy_page_in_french(app: Any) -> None:
    body = app.get("/fr/cookies").body
    # The CNIL's words for the cookie table: émetteur, durée de vie.
    for text in ("Politique de cookies", "Émetteur", "Service et partie du site",
                 "Durée de vie", "13\u00a0mois", "Tiers", "Tout refuser",
                 "pages publiques"):  # fmt: skip
        assert text in body


def test_policy_page_shows_the_date_of_the_choice_and_offers_withdrawal(app: Any) -> None:
    client = app.test_client()
    _choose(client, "accept_all")
    body = client.get("/cookies").body
    assert "You made your choice on" in body
    assert "Withdraw my consent" in body
    assert re.search(r'value="media"[^>]*checked', body)


@pytest.mark.ckan_config(
    "ckanext.cookieconsent.intro.en", "Run by **Région X**. <script>alert(1)</script>"
)
def test_policy_intro_is_configurable_and_rendered_safely(app: Any) -> None:
    body = app.get("/cookies").body
    assert "<strong>Région X</strong>" in body
    assert "<script>alert(1)</script>" not in body


def test_policy_page_keeps_a_safe_return_target(app: Any) -> None:
    assert 'name="came_from" value="/about"' in app.get("/cookies?came_from=/about").body
    hostile = app.get("/cookies?came_from=//evil.example").body
    assert 'name="came_from" value="//evil.example"' not in hostile
    assert 'name="came_from" value="/cookies"' in hostile
