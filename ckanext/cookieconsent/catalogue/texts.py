"""Texts in any language, inside a request or not (the API's `lang`, the records' snapshot).

- `gettext_for(lang, msgid)`: the extension's own gettext catalogue (i18n/), loaded once
  per language, falling back from the exact locale to its base language (pt_BR: pt) and
  then to English (the msgids).
- `translate(text, lang)`: a catalogue `Text`, falling back to the base language, the
  extension's translation of its English text (the shipped catalogues' texts in every
  language), the portal's `ckan.locale_default`, English, then any language it has.
- `duration_text(duration, lang)`: how long a cookie lives, worded by Babel's CLDR units
  (13 months, 13 mois), unless the file's `duration_text` says otherwise.

Mark a msgid for extraction with `N_("...")` (a default keyword of Babel's extractor)
and translate it where it is shown, with `gettext_for`.
"""

from __future__ import annotations

import functools
import gettext
import importlib.resources

import babel
import babel.numbers
import babel.units
import ckan.plugins.toolkit as tk
from babel.support import NullTranslations, Translations

from ckanext.cookieconsent.catalogue.model import Duration, Text

DOMAIN = "ckanext-cookieconsent"
DEFAULT_LANG = "en"


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction; translate it later with `gettext_for`."""
    return msgid


SESSION_TEXT = N_("Session (deleted when the browser closes)")


def fallbacks(lang: str) -> tuple[str, ...]:
    """`lang`, its base language, then English, without repeats ("pt-BR": pt_BR, pt, en)."""
    lang = lang.replace("-", "_")
    return tuple(dict.fromkeys(x for x in (lang, lang.split("_")[0], DEFAULT_LANG) if x))


def gettext_for(lang: str, msgid: str) -> str:
    """`msgid` translated into `lang` by the extension's catalogue, in a request or not."""
    return _translations(lang).gettext(msgid)


@functools.lru_cache(maxsize=64)
def _translations(lang: str) -> NullTranslations:
    i18n = str(importlib.resources.files("ckanext.cookieconsent").joinpath("i18n"))
    chain: NullTranslations | None = None
    for candidate in fallbacks(lang):
        found = gettext.find(DOMAIN, i18n, [candidate])
        if found is None:
            continue
        with open(found, "rb") as handle:
            translations = Translations(handle, domain=DOMAIN)
        if chain is None:
            chain = translations
        else:
            chain.add_fallback(translations)
    return chain or NullTranslations()


def translate(text: Text, lang: str) -> str:
    """The text in `lang`, else its base language, else the portal's default language,
    else English, else any."""
    lang = lang.replace("-", "_")
    for key in (lang, lang.split("_")[0]):
        if key in text:
            return text[key]
    # The shipped catalogues give their texts in English and French; every other language
    # comes from the extension's gettext catalogues, where the English text is the msgid.
    english = text.get(DEFAULT_LANG)
    if english is not None:
        translated = gettext_for(lang, english)
        if translated != english:
            return translated
    default = (tk.config.get("ckan.locale_default") or DEFAULT_LANG).replace("-", "_")
    keys = ("*", default, default.split("_")[0], DEFAULT_LANG)
    for key in keys:
        if key in text:
            return text[key]
    return next(iter(text.values()))


def duration_text(duration: Duration, lang: str) -> str:
    """How long `duration` lasts, in `lang`: the file's words, else Babel's CLDR ones."""
    if duration.text:
        return translate(duration.text, lang)
    if duration.count is None or duration.unit is None:
        return gettext_for(lang, SESSION_TEXT)
    return _unit_text(duration.count, duration.unit, lang)


@functools.lru_cache(maxsize=1024)
def _unit_text(count: int, unit: str, lang: str) -> str:
    for candidate in fallbacks(lang):
        try:
            locale = babel.Locale.parse(candidate)
        except (babel.UnknownLocaleError, ValueError):
            continue
        number = babel.numbers.format_decimal(count, locale=locale)
        # Where CLDR lacks the long pattern (pt, ja, ar…), Babel writes "13 duration-month":
        # the short one ("13 meses", "13 か月") still beats another language's words.
        for length in ("long", "short"):
            text = babel.units.format_unit(count, f"duration-{unit}", length=length, locale=locale)
            if text != f"{number} duration-{unit}":
                return text
    return f"{count} {unit}{'' if count == 1 else 's'}"  # unreachable: English has them all
