"""Dates, numbers and percentages in the visitor's language, through CKAN's app: written by
Babel with the request's locale, as CKAN writes its own (`h.render_datetime`,
`h.localised_number`), never with an English pattern ("le novembre 29, 2026") or a
hand-made one ("54.5 %"). German has no catalogue of ours yet: its texts may be English,
its dates and numbers are German all the same."""

from __future__ import annotations

import datetime
from typing import Any

import flask_babel
import pytest
from babel.dates import format_date
from ckan.tests import factories
from helpers import EXAMPLE_MARKS, PREFERENCES, choose, set_cookies

from ckanext.cookieconsent import helpers as cookieconsent_helpers

LOCALES = "en fr de ar pt_BR"

pytestmark = [*EXAMPLE_MARKS, pytest.mark.ckan_config("ckan.locales_offered", LOCALES)]


def _made_on(response: Any) -> datetime.date:
    """The day (UTC) of the choice the response's preferences cookie records."""
    made_at = int(set_cookies(response)[PREFERENCES].value.split(":")[2])
    return datetime.datetime.fromtimestamp(made_at, tz=datetime.timezone.utc).date()


@pytest.mark.parametrize(
    ("lang", "before"),
    [("fr", "Vous avez fait votre choix le "), ("de", ""), ("en", "You made your choice on ")],
)
def test_the_choice_date_is_written_in_the_page_language(app: Any, lang: str, before: str) -> None:
    client = app.test_client()
    day = _made_on(choose(client, "accept_all"))

    body = client.get(f"/{lang}/cookies" if lang != "en" else "/cookies").get_data(as_text=True)

    expected = before + format_date(day, "long", locale=lang)  # "29 novembre 2026"
    assert expected in body, f"{expected!r} not on the {lang} policy page"
    english_month_first = format_date(day, "MMMM d, y", locale=lang)  # "novembre 29, 2026"
    if lang != "en":
        assert english_month_first not in body


# --- The dashboard -----------------------------------------------------------------------------


@pytest.mark.usefixtures("with_plugins", "consent_tables")
@pytest.mark.parametrize(
    ("lang", "share", "zero"),
    [
        ("fr", "33,3\N{NO-BREAK SPACE}%", "0\N{NO-BREAK SPACE}%"),
        ("de", "33,3\N{NO-BREAK SPACE}%", "0\N{NO-BREAK SPACE}%"),
        ("en", "33.3%", "0%"),
    ],
)
def test_dashboard_percentages_are_written_in_the_page_language(
    app: Any, lang: str, share: str, zero: str
) -> None:
    for action in ("accept_all", "refuse_all", "refuse_all"):
        assert choose(app.test_client(), action).status_code == 303
    headers = {"Authorization": factories.SysadminWithToken()["token"]}

    prefix = "" if lang == "en" else f"/{lang}"
    body = app.get(f"{prefix}/ckan-admin/cookies", headers=headers).body

    rates = body[body.index("<tbody>") : body.index("</tbody>")]  # by policy revision
    assert f"<td>{share}</td>" in rates, rates
    table = body[body.index('id="cookieconsent-chart-numbers"') :]
    assert f"<td>{share}</td>" in table[: table.index("</table>")]
    chart = body[body.index('<figure class="cookieconsent-chart">') : body.index("</figure>")]
    assert f">{zero}</text>" in chart  # the y axis
    if lang != "en":
        assert "33.3" not in body


@pytest.mark.parametrize(
    ("lang", "number", "percent"),
    [
        ("fr", "12\N{NARROW NO-BREAK SPACE}345", "54,5\N{NO-BREAK SPACE}%"),
        ("de", "12.345", "54,5\N{NO-BREAK SPACE}%"),
        ("en", "12,345", "54.5%"),
        ("tr", "12.345", "%54,5"),  # the sign before the number
        ("pt_BR", "12.345", "54,5%"),
    ],
)
def test_number_and_percent_helpers_follow_the_request_locale(
    app: Any, lang: str, number: str, percent: str
) -> None:
    with app.flask_app.test_request_context("/"), flask_babel.force_locale(lang):
        assert cookieconsent_helpers.cookieconsent_number(12345) == number
        assert cookieconsent_helpers.cookieconsent_percent(0.545) == percent
        whole = percent.replace("54,5", "100").replace("54.5", "100")
        assert cookieconsent_helpers.cookieconsent_percent(1, 0) == whole
