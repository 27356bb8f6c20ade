"""Every language CKAN ships: complete catalogues, the same placeholders, and pages that
render in each, with the right `lang` and `dir` and the buttons in that language."""

from __future__ import annotations

import html as html_text
import re
from pathlib import Path
from typing import Any

import ckan
import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from helpers import EXAMPLE, VALUES

from ckanext.cookieconsent import catalogue

I18N = Path(__file__).resolve().parent.parent / "ckanext" / "cookieconsent" / "i18n"
DOMAIN = "ckanext-cookieconsent"
CKAN_I18N = Path(ckan.__file__).parent / "i18n"
# The locales of the CKAN release under test (2.12 ships a few more than 2.11).
CKAN_LOCALES = sorted(p.name for p in CKAN_I18N.iterdir() if p.is_dir() and p.name[0] != "_")
SHIPPED = sorted(p.name for p in I18N.iterdir() if p.is_dir())
# Babel reads CKAN's `tl` as Filipino (fil_PH): flask-babel then looks for `fil`, where
# the extension keeps a copy of its Tagalog catalogue.
RTL = {"ar", "he", "fa_IR"}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _po(lang: str) -> Any:
    with (I18N / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _template_ids() -> set[Any]:
    with (I18N / f"{DOMAIN}.pot").open("rb") as handle:
        return {_key(m) for m in read_po(handle) if m.id}


def test_every_locale_ckan_ships_has_a_catalogue() -> None:
    assert set(CKAN_LOCALES) - set(SHIPPED) == set()


@pytest.mark.parametrize("lang", SHIPPED)
def test_catalogue_is_complete_and_keeps_the_placeholders(lang: str) -> None:
    po = _po(lang)
    ids = {_key(m) for m in po if m.id}
    assert ids == _template_ids(), "run make i18n"
    problems = []
    for message in po:
        if not message.id:
            continue
        sources = [message.id] if isinstance(message.id, str) else list(message.id)
        targets = [message.string] if isinstance(message.string, str) else list(message.string)
        if "fuzzy" in message.flags or not all(targets):
            problems.append(("untranslated or fuzzy", message.id))
            continue
        expected = set(PLACEHOLDER.findall(sources[-1]))
        for target in targets:
            # A singular form may leave {count} out ("one record"); nothing else may differ.
            found = set(PLACEHOLDER.findall(target))
            if found - expected or expected - found - {"{count}"}:
                problems.append(("placeholders", message.id, target))
    assert problems == []


@pytest.mark.parametrize("lang", SHIPPED)
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    with (I18N / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as handle:
        compiled = {_key(m): _frozen(m.string) for m in read_mo(handle) if m.id}
    source = {_key(m): _frozen(m.string) for m in _po(lang) if m.id}
    assert compiled == source, "run make i18n"


def _frozen(value: Any) -> Any:
    return value if isinstance(value, str) else tuple(value)


def _key(message: Any) -> Any:
    context = message.context
    if isinstance(context, bytes):  # read_mo gives contexts as bytes
        context = context.decode()
    return (context, _frozen(message.id))


@pytest.mark.parametrize("lang", SHIPPED)
def test_builtin_catalogue_texts_exist_in_every_locale(lang: str) -> None:
    loaded = catalogue.load(EXAMPLE, VALUES)
    english = catalogue.translate
    missing = [
        (entry.name if hasattr(entry, "name") else entry.id, field)
        for entry in (*loaded.categories, *loaded.cookies)
        for field in ("title", "description", "service", "purpose")
        if hasattr(entry, field)
        and lang.split("_")[0] != "en"
        and english(getattr(entry, field), lang) == english(getattr(entry, field), "en")
        and getattr(entry, field).get("en")  # proper names given once ("CKAN") stay
    ]
    assert missing == []


def _msgstr(po: Any, msgid: str) -> str:
    return next(m.string for m in po if m.id == msgid and not m.context)


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.ckan_config("ckan.locales_offered", " ".join(CKAN_LOCALES))
@pytest.mark.usefixtures("with_plugins")
@pytest.mark.parametrize("lang", CKAN_LOCALES)
def test_banner_and_policy_render_in_every_locale(app: Any, lang: str) -> None:
    po = _po(lang)
    about = app.get(f"/{lang}/about")
    assert about.status_code == 200
    # The last <html> tag: CKAN 2.11 writes an IE 9 one first, in a conditional comment.
    html = re.findall(r"<html[^>]*>", about.body)[-1]
    assert f'lang="{lang.replace("_", "-")}"' in html or f'lang="{lang}"' in html, html
    assert ('dir="rtl"' in html) == (lang in RTL), html
    for button in ("accept", "reject"):
        label = re.search(
            rf'id="cookieconsent-banner-{button}-all"[^>]*>\s*([^<]*?)\s*</button>', about.body
        )
        assert label is not None
        assert html_text.unescape(label.group(1)) == _msgstr(po, f"{button.capitalize()} all")
    policy = app.get(f"/{lang}/cookies")
    assert policy.status_code == 200
    assert _msgstr(po, "Cookie policy") in html_text.unescape(policy.body)
