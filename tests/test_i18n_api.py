"""The action API in every language: `lang` takes any CKAN locale and follows the chain
exact locale -> base language -> the shipped translation -> portal default -> English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.usefixtures("with_plugins"),
]
URL = "/api/3/action/cookieconsent_category_list"


def _titles(app: Any, lang: str) -> dict[str, str]:
    result = app.get(URL, params={"lang": lang}).json["result"]
    return {c["id"]: c["title"] for c in result}


@pytest.mark.parametrize(
    ("lang", "title"),
    [("de", "Unbedingt erforderlich"), ("ja", "必要不可欠"), ("ar", "الضرورية للغاية")],
)
def test_builtin_texts_come_in_any_ckan_locale(app: Any, lang: str, title: str) -> None:
    """Not among ckan.locales_offered (en fr in test.ini): the API still answers."""
    assert _titles(app, lang)["necessary"] == title


def test_an_unknown_language_is_refused(app: Any) -> None:
    response = app.get(URL, params={"lang": "xx"}, status=409)
    assert "lang" in response.json["error"]


@pytest.fixture
def partial_catalogue(tmp_path: Path) -> str:
    path = tmp_path / "cookies.yaml"
    path.write_text(
        "categories:\n"
        "  - id: statistics\n"
        "    title: {pt: Medição de audiência, de: Reichweitenmessung, en: Audience}\n",
        encoding="utf-8",
    )
    return str(path)


def test_a_text_given_in_some_languages_falls_back_to_the_base_language(
    app: Any, partial_catalogue: str, ckan_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ckanext.cookieconsent import catalogue, config

    loaded = catalogue.load(partial_catalogue, config.builtin_catalogue_values())
    title = loaded.category("statistics").title  # type: ignore[union-attr]
    assert catalogue.translate(title, "pt_BR") == "Medição de audiência"  # base language
    assert catalogue.translate(title, "de_CH") == "Reichweitenmessung"
    monkeypatch.setitem(ckan_config, "ckan.locale_default", "de")
    assert catalogue.translate(title, "sv") == "Reichweitenmessung"  # the portal's default
    monkeypatch.setitem(ckan_config, "ckan.locale_default", "en")
    assert catalogue.translate(title, "sv") == "Audience"  # English last
