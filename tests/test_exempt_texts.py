"""Texts that stay true when a category is exempt from consent (CNIL audience measurement).

An exempt category is on by default with an opt-out: the banner must not list it among the
purposes waiting for consent, and the policy page must not say that every other cookie is
set only with consent. The example catalogue makes `statistics` exempt; the demo's does not.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from helpers import DEMO_CATALOGUE as DEMO
from helpers import EXAMPLE

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.usefixtures("with_plugins"),
]


def _banner_text(app: Any, path: str) -> str:
    body = app.get(path).body
    paragraph = re.search(r'<p class="cookieconsent-banner__text">(.*?)</p>', body, re.S)
    assert paragraph is not None
    return _squeezed(paragraph.group(1))


def _policy_intro(app: Any, path: str) -> str:
    body = app.get(path).body
    intro = re.search(r'<div class="cookieconsent-policy__intro">(.*?)</div>', body, re.S)
    assert intro is not None
    return _squeezed(intro.group(1))


def _squeezed(markup: str) -> str:
    """The text of `markup`, ASCII whitespace squeezed (no-break spaces are kept: French
    typography is part of what is tested)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.parametrize(
    ("path", "waiting", "exempt"),
    [
        ("/about", "for these purposes: Third-party content.",
         "Exempt from consent and set by default: Audience measurement; you can object"),
        ("/fr/about", "pour les finalités suivantes\u00a0: Contenus tiers.",
         "Exemptés de consentement et déposés par défaut\u00a0: Mesure d'audience\u202f; "
         "vous pouvez vous y opposer"),
    ],
)  # fmt: skip
def test_banner_asks_only_about_what_waits_for_consent(
    app: Any, path: str, waiting: str, exempt: str
) -> None:
    text = _banner_text(app, path)
    assert waiting in text
    assert exempt in text


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        ("/cookies", "Exempt from consent too, and set by default: Audience measurement; "
                     "you can object to them here."),
        ("/fr/cookies", "Également exemptés de consentement et déposés par défaut\u00a0: "
                        "Mesure d'audience\u202f; vous pouvez vous y opposer ici."),
    ],
)  # fmt: skip
def test_policy_says_the_exempt_category_is_set_by_default(
    app: Any, path: str, sentence: str
) -> None:
    assert sentence in _policy_intro(app, path)


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", DEMO)
def test_without_an_exempt_category_no_exemption_is_claimed(app: Any) -> None:
    assert "Exempt from consent" not in _banner_text(app, "/about")
    assert "Exempt from consent" not in _policy_intro(app, "/cookies")
    assert "for these purposes: Audience measurement, Third-party content." in _banner_text(
        app, "/about"
    )
