"""The policy page says what the visitor's state is, offers the choice once, and only when
there is something to choose; themes override its named blocks. Also the embed placeholder
of a category the portal has not declared. Through CKAN's app (test_browser_hooks.py checks
what the script changes after a choice made in the page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import render_template_string
from helpers import EXAMPLE, PLUGIN_MARKS, choose

BANNER = 'id="cookieconsent-banner"'
POLICY_THEME = Path(__file__).resolve().parent / "policy_theme" / "templates"
GPC = {"Sec-GPC": "1"}
GPC_SENTENCE = "Your browser sends the Global Privacy Control signal"
MADE = "You made your choice on"

pytestmark = PLUGIN_MARKS


def _summary(body: str) -> str:
    """The text of the policy page's summary of the visitor's choice."""
    found = re.search(r"<p data-cookieconsent-summary[^>]*>(.*?)</p>", body, re.DOTALL)
    assert found, "no summary on the policy page"
    return " ".join(found.group(1).split())


def _refusal_button(body: str) -> str:
    """The text of the policy form's refusal button ("Reject all" or "Withdraw ...")."""
    found = re.search(r'id="cookieconsent-policy-reject-all"[^>]*>\s*([^<]*?)\s*</button>', body)
    assert found, "no refusal button on the policy page"
    return found.group(1)


# --- A stock portal: nothing needs consent ---------------------------------------------------


def test_stock_portal_shows_the_policy_without_a_choice(app: Any) -> None:
    body = app.get("/cookies").body

    assert "<code>ckan</code>" in body and "<code>cookies_preferences</code>" in body
    assert "there is nothing to choose" in body
    assert "data-cookieconsent-form" not in body
    for label in ("Save my choices", "Accept all", "Reject all", "Your choice"):
        assert label not in body, label
    # The intro does not promise a choice it does not offer.
    assert "lets you choose which ones you allow" not in body


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_a_portal_with_something_to_choose_shows_the_choice(app: Any) -> None:
    body = app.get("/cookies").body

    assert "data-cookieconsent-form" in body and "Save my choices" in body
    assert "there is nothing to choose" not in body


EMBED = (
    "{% import 'cookieconsent/macros/gate.html' as gate %}"
    "{{ gate.embed('media', src='https://video.example/embed/1', title='Launch video',"
    " provider='Video Example') }}"
)


def _render_embed(app: Any) -> str:
    with app.flask_app.test_request_context("/about"):
        app.flask_app.preprocess_request()
        return render_template_string(EMBED)


def test_embed_of_an_undeclared_category_offers_no_button(app: Any) -> None:
    """The built-in catalogue lists no cookie of "media": visitors are not asked about it,
    so nothing of that category can be allowed, not even once."""
    html = _render_embed(app)

    assert "This portal has not declared the cookies it may set" in html
    assert "<button" not in html and "data-cookieconsent-allow-once" not in html
    # The frame is not in the page at all: no script can load it.
    assert "<template>" not in html and "<iframe" not in html
    assert 'href="https://video.example/embed/1"' in html  # the provider's own site


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_embed_of_a_declared_category_can_be_allowed(app: Any) -> None:
    html = _render_embed(app)

    assert "has not declared" not in html
    assert "data-cookieconsent-allow-once" in html and 'value="allow"' in html
    assert '<template><iframe src="https://video.example/embed/1"' in html


# --- The choice, once -------------------------------------------------------------------------


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.parametrize("lang", ["", "/fr"])
def test_the_policy_page_shows_no_banner(app: Any, lang: str) -> None:
    """The page's own form is the choice: a first-time visitor meets it once."""
    assert BANNER in app.get(f"{lang}/about").body
    body = app.get(f"{lang}/cookies").body
    assert BANNER not in body
    assert body.count("data-cookieconsent-form") == 1
    # After the intro, the choice comes first, before the cookie tables.
    assert body.index("cookieconsent-policy__intro") < body.index('id="cookieconsent-choice"')
    assert body.index('id="cookieconsent-choice"') < body.index("cookieconsent-table")


# --- Wording that follows the visitor's state --------------------------------------------------


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.parametrize(
    ("action", "form", "button"),
    [
        ("accept_all", {}, "Withdraw my consent"),
        ("save", {"granted": ["statistics"]}, "Withdraw my consent"),
        ("refuse_all", {}, "Reject all"),
        ("save", {}, "Reject all"),
    ],
    ids=["accepted-all", "kept-one", "rejected-all", "saved-none"],
)
def test_withdrawal_is_offered_only_while_something_optional_is_allowed(
    app: Any, action: str, form: dict[str, Any], button: str
) -> None:
    client = app.test_client()
    assert _refusal_button(client.get("/cookies").body) == "Reject all"  # no choice yet

    assert choose(client, action, **form).status_code == 303

    body = client.get("/cookies").body
    assert MADE in _summary(body)
    assert _refusal_button(body) == button


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_gpc_sentence_only_until_a_choice_is_stored(app: Any) -> None:
    client = app.test_client()
    client.get("/about", headers=GPC)  # CKAN's session cookie: the browser keeps cookies

    # Seen with GPC and no choice: the refusal GPC implies, stored as this page is served.
    first = _summary(client.get("/cookies", headers=GPC).body)
    assert GPC_SENTENCE in first and MADE not in first

    # From then on the stored refusal is the choice: one sentence, not both.
    later = client.get("/cookies", headers=GPC).body
    assert MADE in _summary(later) and GPC_SENTENCE not in later
    assert _refusal_button(later) == "Reject all"


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_a_stored_choice_wins_over_gpc_on_the_policy_page(app: Any) -> None:
    client = app.test_client()
    assert choose(client, "accept_all").status_code == 303

    body = client.get("/cookies", headers=GPC).body

    assert MADE in _summary(body) and GPC_SENTENCE not in body
    assert _refusal_button(body) == "Withdraw my consent"


# --- Themes override the page's named blocks --------------------------------------------------


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.ckan_config("extra_template_paths", str(POLICY_THEME))
def test_a_theme_overrides_the_policy_page_blocks(app: Any) -> None:
    body = app.get("/cookies").body

    # policy_intro replaced: the theme's words, not the extension's.
    assert '<p class="theme-intro">Our portal\'s own words about cookies.</p>' in body
    assert "A cookie is a small text file" not in body
    # policy_cookies extended with super(), seeing the page's variables.
    assert '<p class="theme-count">3 categories, a choice, source none.</p>' in body
    assert "<code>_pk_id.*</code>" in body
    assert body.index("theme-count") < body.index("cookieconsent-table")
    # policy_choice and policy_heading untouched.
    assert 'id="cookieconsent-choice"' in body and "<h1>Cookie policy</h1>" in body
    # Structured like CKAN's home/about.html: one article, the main landmark.
    assert '<article class="module cookieconsent-policy" role="main">' in body
