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


def test_every_extracted_message_is_in_both_catalogues() -> None:
    with (I18N / f"{DOMAIN}.pot").open("rb") as handle:
        template = set(_messages(read_po(handle)))
    for lang in ("fr", "en"):
        assert set(_messages(_catalogue(lang, "po"))) == template, lang


def test_every_french_message_is_translated() -> None:
    untranslated = [
        m.id for m in _catalogue("fr", "po") if m.id and (not m.string or "fuzzy" in m.flags)
    ]
    assert untranslated == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    """The committed .mo was compiled from the committed .po (run `make i18n`)."""
    source = {k: v for k, v in _messages(_catalogue(lang, "po")).items() if v and any(v)}
    assert _messages(_catalogue(lang, "mo")) == source


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
@pytest.mark.parametrize(
    ("path", "heading"), [("/fr/cookies", "Politique de cookies"), ("/cookies", "Cookie policy")]
)
def test_policy_page_follows_the_language_of_the_url(app, path: str, heading: str) -> None:
    assert heading in app.get(path).body
