"""Translations: every message has a French text, the compiled catalogues are current,
and pages follow CKAN's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

I18N = Path(__file__).resolve().parent.parent / "ckanext" / "cookieconsent" / "i18n"
DOMAIN = "ckanext-cookieconsent"


def _catalogue(lang: str, ext: str):
    path = I18N / lang / "LC_MESSAGES" / f"{DOMAIN}.{ext}"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang) if ext == "po" else read_mo(handle)


def _messages(catalogue) -> dict[object, object]:
    """Message id -> translation; plural forms as tuples."""

    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalogue if m.id}


# Completeness, placeholders and compiled catalogues of every locale, French and English
# included: test_i18n_locales.py.


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
@pytest.mark.parametrize(
    ("path", "heading"), [("/fr/cookies", "Politique de cookies"), ("/cookies", "Cookie policy")]
)
def test_policy_page_follows_the_language_of_the_url(app, path: str, heading: str) -> None:
    assert heading in app.get(path).body
