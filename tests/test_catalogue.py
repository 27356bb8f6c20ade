"""The cookie catalogue: the built-in entries, the admin file, every validation message."""

from __future__ import annotations

import datetime
import json
import textwrap
from pathlib import Path

import ckan.plugins as plugins
import pytest
from helpers import VALUES

from ckanext.cookieconsent import catalogue
from ckanext.cookieconsent.catalogue import CatalogueError

A_COOKIE = """
  - name: _pk_id.*
    category: statistics
    provider: Matomo
    service: Audience
    purpose: Count visits
    duration: 13 months
"""


def _load(tmp_path: Path, content: str, suffix: str = ".yaml") -> catalogue.Catalogue:
    path = tmp_path / f"cookies{suffix}"
    path.write_text(textwrap.dedent(content), encoding="utf-8")
    return catalogue.load(str(path), VALUES)


# --- The built-in catalogue -----------------------------------------------------


def test_builtin_catalogue_lists_ckan_cookies_and_ours() -> None:
    loaded = catalogue.load("", VALUES)
    assert [c.name for c in loaded.cookies] == [
        "ckan",
        "remember_token",
        "cookies_preferences",
        "htmx-*",
    ]
    assert {c.category for c in loaded.cookies} == {"necessary"}
    assert [c.id for c in loaded.categories] == ["necessary", "statistics", "media"]
    assert loaded.category("necessary").required  # type: ignore[union-attr]


def test_builtin_names_and_durations_follow_the_configuration() -> None:
    values = {**VALUES, "session_cookie": "portal_session", "session_duration": "session"}
    loaded = catalogue.load("", {**values, "remember_cookie": "stay", "preferences_max_age": "60"})
    by_name = {c.name: c for c in loaded.cookies}
    assert by_name["portal_session"].duration.is_session
    assert "stay" in by_name
    assert by_name["cookies_preferences"].duration.seconds == 60
    assert catalogue.duration_text(by_name["cookies_preferences"].duration, "fr") == "1 minute"


def test_every_builtin_text_exists_in_french_and_english() -> None:
    loaded = catalogue.load("", VALUES)
    texts = [t for c in loaded.categories for t in (c.title, c.description)]
    texts += [t for c in loaded.cookies for t in (c.service, c.purpose, c.duration.text) if t]
    for text in texts:
        assert {"fr", "en"} <= set(text) or "*" in text, text
        if "*" not in text:
            assert text["fr"] != text["en"] or text["fr"] in ("1 minute",), text


# --- Reading the admin file -------------------------------------------------------


def test_admin_file_adds_cookies_and_overrides_builtin_fields(tmp_path: Path) -> None:
    admin_file = (
        "categories:\n"
        "  - id: statistics\n"
        "    exempt: true\n"
        "cookies:\n"
        "  - name: ckan\n"
        "    purpose: {fr: Session du portail, en: Portal session}\n"
    ) + A_COOKIE
    loaded = _load(tmp_path, admin_file)
    statistics = loaded.category("statistics")
    assert statistics is not None and statistics.exempt
    assert catalogue.translate(statistics.title, "fr") == "Mesure d'audience"  # kept
    session = next(c for c in loaded.cookies if c.name == "ckan")
    assert catalogue.translate(session.purpose, "fr") == "Session du portail"
    assert catalogue.translate(session.service, "en") == "Authentication and form security"
    matomo = next(c for c in loaded.cookies if c.name == "_pk_id.*")
    assert matomo.duration.seconds == 13 * 30 * 86400
    assert catalogue.duration_text(matomo.duration, "fr") == "13\u00a0mois"  # CLDR's no-break
    assert matomo.matches("_pk_id.1.a2b3") and not matomo.matches("_pk_ses.1.a2b3")


def test_json_file_is_read_like_yaml(tmp_path: Path) -> None:
    cookie = {"name": "lang", "category": "necessary", "provider": "Portal", "service": "Language"}
    content = {"cookies": [{**cookie, "purpose": "Language", "duration": "session"}]}
    loaded = _load(tmp_path, json.dumps(content), suffix=".json")
    assert loaded.cookies[-1].name == "lang" and loaded.cookies[-1].duration.is_session


def test_package_path_form_reads_the_shipped_example() -> None:
    loaded = catalogue.load("ckanext.cookieconsent:examples/matomo-youtube.yaml", VALUES)
    names = {c.name for c in loaded.cookies}
    assert {"_pk_id.*", "_pk_ses.*", "YSC", "VISITOR_INFO1_LIVE", "PREF"} <= names
    assert loaded.category("statistics").exempt  # type: ignore[union-attr]
    assert {c.party for c in loaded.cookies_of("media")} == {"third"}
    assert loaded.updated == datetime.date(2026, 11, 29)


def test_empty_file_keeps_the_builtin_catalogue(tmp_path: Path) -> None:
    assert len(_load(tmp_path, "").cookies) == 4


# --- The policy revision ---------------------------------------------------------


def test_revision_ignores_wording_but_follows_purposes(tmp_path: Path) -> None:
    builtin = catalogue.load("", VALUES).revision
    reworded = _load(tmp_path, "cookies: [{name: ckan, purpose: Another wording}]").revision
    with_matomo = _load(tmp_path, f"cookies:{A_COOKIE}").revision
    made_exempt = _load(tmp_path, "categories: [{id: statistics, exempt: true}]").revision
    assert len(builtin) == catalogue.REVISION_LENGTH
    assert reworded == builtin
    assert len({builtin, with_matomo, made_exempt}) == 3


def test_revision_can_be_pinned(tmp_path: Path) -> None:
    assert _load(tmp_path, f"revision: 2026-11\ncookies:{A_COOKIE}").revision == "2026-11"


# --- Every validation message ----------------------------------------------------

BROKEN = [
    ("cookies: [", "line 1, column 11: invalid YAML"),
    ("- a list", "the top level must be a mapping"),
    ("cookies: {name: x}", "`cookies` must be a list of entries"),
    ("cookies: [just-a-name]", "cookies[0]: each entry must be a mapping of fields"),
    ("colours: []", "the top level: unknown field `colours`"),
    ("cookies: [{category: necessary}]", "cookies[0]: missing field `name`"),
    ("categories: [{title: T}]", "categories[0]: missing field `id`"),
    (f"cookies:{A_COOKIE}{A_COOKIE}", "cookie '_pk_id.*': declared twice"),
    ("categories: [{id: x, title: T, description: D, colour: red}]",
     "category 'x': unknown field `colour`"),
    ("categories: [{id: x, title: T}]", "category 'x': missing field `description`"),
    ("categories: [{id: Bad Id, title: T, description: D}]", "field `id` must be a slug"),
    ("categories: [{id: x, title: T, description: D, required: yes please}]",
     "category 'x': field `required` must be true or false"),
    ("categories: [{id: x, title: T, description: D, exempt: 1}]",
     "field `exempt` must be true or false"),
    ("categories: [{id: statistics, exempt: true, required: true}]",
     "`required` and `exempt` cannot both be true"),
    ("categories: [{id: necessary, required: false}]", "exactly one category must have"),
    ("categories: [{id: x, title: T, description: D, order: first}]",
     "field `order` must be an integer"),
    ("categories: [{id: x, title: '', description: D}]", "category 'x': missing field `title`"),
    ("categories: [{id: x, title: [a], description: D}]",
     "field `title` must be a non-empty string or a mapping of language to string"),
    ("categories: [{id: x, title: {french: T}, description: D}]",
     "field `title`: 'french' is not a language code"),
    ("categories: [{id: x, title: {fr: ''}, description: D}]",
     "field `title`: the 'fr' text must be a non-empty string"),
    ("cookies: [{name: x, category: necessary, provider: P, service: S, purpose: P}]",
     "cookie 'x': missing field `duration`"),
    ("cookies: [{name: x, frequency: 1}]", "cookie 'x': unknown field `frequency`"),
    (A_COOKIE.replace("_pk_id.*", "'bad name'").join(["cookies:", ""]),
     "cookie 'bad name': field `name` must be a cookie name, or a pattern"),
    (A_COOKIE.replace("_pk_id.*", "'**'").join(["cookies:", ""]), "and not only `*`"),
    (A_COOKIE.replace("category: statistics", "category: ads").join(["cookies:", ""]),
     "field `category`: unknown category 'ads'; expected one of: media, necessary, statistics"),
    (A_COOKIE.replace("13 months", "forever").join(["cookies:", ""]),
     "field `duration`: 'forever' is not a duration"),
    (A_COOKIE.replace("13 months", "13 fortnights").join(["cookies:", ""]),
     "'13 fortnights' is not a duration"),
    (A_COOKIE.replace("13 months", "0 days").join(["cookies:", ""]), "'0 days' is not a duration"),
    ((A_COOKIE + "    location: sidebar\n").join(["cookies:", ""]),
     "field `location` must be one of front, back, both, not 'sidebar'"),
    ((A_COOKIE + "    party: fourth\n").join(["cookies:", ""]),
     "field `party` must be one of first, third, not 'fourth'"),
    ((A_COOKIE + "    domain: ''\n").join(["cookies:", ""]),
     "field `domain` must be a host name"),
    # Header injection: the values end up in Set-Cookie and document.cookie.
    ((A_COOKIE + "    domain: 'example.org; HttpOnly'\n").join(["cookies:", ""]),
     "field `domain` must be a host name such as `.example.org`"),
    ((A_COOKIE + "    domain: 'example.org\\r\\nSet-Cookie: x=1'\n").join(["cookies:", ""]),
     "field `domain` must be a host name"),
    ((A_COOKIE + "    domain: '-bad-.org'\n").join(["cookies:", ""]),
     "field `domain` must be a host name"),
    ((A_COOKIE + "    path: admin\n").join(["cookies:", ""]), "field `path` must start with `/`"),
    ((A_COOKIE + "    path: '/; Domain=evil.example'\n").join(["cookies:", ""]),
     "without spaces or `;` (RFC 6265)"),
    ((A_COOKIE + "    path: \"/a\\tb\"\n").join(["cookies:", ""]),
     "field `path` must start with `/`"),
    (A_COOKIE.replace("_pk_id.*", "\"_pk_id\\n\"").join(["cookies:", ""]),
     "field `name` must be a cookie name"),
    ("revision: 'not a revision!'", "field `revision` must be 1 to 32 letters"),
    ("updated: last tuesday", "field `updated` must be a date such as 2026-11-29"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "message"), BROKEN)
def test_broken_file_is_refused_with_a_message_naming_file_entry_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(CatalogueError) as raised:
        _load(tmp_path, content)
    assert str(raised.value).startswith(str(tmp_path / "cookies.yaml") + ": ")
    assert message in str(raised.value)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"cookies\.json: line 1, column 14: invalid JSON"):
        _load(tmp_path, '{"cookies": [}', suffix=".json")


def test_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cookies.yaml"
    path.write_bytes(b"cookies: [{name: caf\xe9}]")
    with pytest.raises(CatalogueError, match="the catalogue is not UTF-8 text"):
        catalogue.load(str(path), VALUES)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"cannot read the catalogue .*\(No such file"):
        catalogue.load(str(tmp_path / "absent.yaml"), VALUES)


def test_unknown_package_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"names package 'ckanext\.nowhere'"):
        catalogue.load("ckanext.nowhere:cookies.yaml", VALUES)


def test_config_giving_two_builtin_cookies_one_name_is_refused() -> None:
    with pytest.raises(CatalogueError, match="name 'ckan' is declared twice"):
        catalogue.load("", {**VALUES, "remember_cookie": "ckan"})


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", "/nonexistent/cookies.yaml")
def test_broken_catalogue_stops_ckan_start_up(ckan_config: object) -> None:
    with pytest.raises(CatalogueError, match=r"/nonexistent/cookies\.yaml: cannot read"):
        plugins.load("cookieconsent")
    plugins.unload("cookieconsent")


# --- Placeholders, rules, texts in any language -------------------------------------


def test_builtin_values_are_filled_in_after_parsing() -> None:
    """A configured name is a value, never YAML: its quote cannot end the YAML string
    (filled in the raw text, this was "invalid YAML"); the name's check refuses it."""
    with pytest.raises(CatalogueError) as raised:
        catalogue.load("", {**VALUES, "session_cookie": 'x"y'})
    assert str(raised.value).startswith("built-in catalogue: cookie 'x\"y': field `name`")


def test_catalogue_rules(tmp_path: Path) -> None:
    builtin = catalogue.load("", VALUES)
    assert builtin.required_category_ids == {"necessary"}
    assert [c.id for c in builtin.visible_categories] == ["necessary"]  # others hold no cookie
    assert (builtin.optional_category_ids, builtin.asks_for_consent) == ((), False)
    exempt_only = _load(
        tmp_path, f"categories: [{{id: statistics, exempt: true}}]\ncookies:{A_COOKIE}"
    )
    assert exempt_only.optional_category_ids == ("statistics",)  # a choice: it can be refused
    assert not exempt_only.asks_for_consent  # but no consent is needed: no banner
    assert _load(tmp_path, f"cookies:{A_COOKIE}").asks_for_consent


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "13 months"),
        ("fr", "13\u00a0mois"),  # CLDR's no-break space
        ("de", "13 Monate"),  # no word of German in our code
        ("de_CH", "13 Monate"),
        ("xx", "13 months"),  # unknown to CLDR: English
    ],
)
def test_durations_are_worded_by_babel_in_any_language(lang: str, text: str) -> None:
    assert catalogue.duration_text(catalogue.Duration.of(13, "month"), lang) == text
    assert catalogue.Duration.from_seconds(13 * 30 * 86400) == catalogue.Duration.of(13, "month")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("fr", "Session (supprimé à la fermeture du navigateur)"),
        ("fr_BE", "Session (supprimé à la fermeture du navigateur)"),  # the base language
        ("de", "Sitzung (wird beim Schließen des Browsers gelöscht)"),
        ("xx", "Session (deleted when the browser closes)"),  # no such catalogue: English
    ],
)
def test_session_text_comes_from_the_gettext_catalogue_outside_a_request(
    lang: str, text: str
) -> None:
    assert catalogue.duration_text(catalogue.Duration.session(), lang) == text
    assert catalogue.gettext_for(lang, "Session (deleted when the browser closes)") == text


def test_duration_text_from_the_file_wins(tmp_path: Path) -> None:
    cookie = A_COOKIE + "    duration_text: {en: About a year, fr: Environ un an}\n"
    matomo = _load(tmp_path, f"cookies:{cookie}").cookies[-1]
    assert catalogue.duration_text(matomo.duration, "fr") == "Environ un an"
    assert catalogue.duration_text(matomo.duration, "de") == "About a year"


@pytest.mark.ckan_config("ckan.locale_default", "de")
def test_texts_fall_back_to_base_language_then_portal_language(ckan_config: object) -> None:
    assert catalogue.translate({"pt": "Olá", "en": "Hello"}, "pt_BR") == "Olá"
    assert catalogue.translate({"de": "Hallo", "en": "Hello"}, "it") == "Hallo"
    assert catalogue.translate({"en": "Hello", "fr": "Bonjour"}, "it") == "Hello"
    assert catalogue.translate({"fr": "Bonjour"}, "it") == "Bonjour"


def test_snapshot_words_durations_in_every_language_of_the_catalogue(tmp_path: Path) -> None:
    cookie = A_COOKIE.replace("purpose: Count visits", "purpose: {de: Besuche zählen, en: Count}")
    snapshot = catalogue.snapshot(_load(tmp_path, f"cookies:{cookie}"))
    matomo = snapshot["cookies"][-1]
    words = matomo["duration"]["text"]
    assert {lang: words[lang] for lang in ("de", "en", "fr")} == {
        "de": "13 Monate",
        "en": "13 months",
        "fr": "13\u00a0mois",
    }
    assert {"ar", "ja", "pt_BR"} <= set(words)  # every language the portal can show
    remember = snapshot["cookies"][1]  # `duration_text` in the built-in file: as written
    assert remember["duration"]["text"] == {"en": "17.5 hours", "fr": "17,5 heures"}
