"""The dashboard's chart: it draws a single day, labels its axis once per date, and has a
text alternative (a data table of its numbers). The chart itself, then the page, with the
real PostgreSQL behind the records."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ckan.tests import factories
from helpers import EXAMPLE
from record_factories import consent_record

from ckanext.cookieconsent import charts

ACCEPTED = {"necessary": True, "statistics": True, "media": True}
REFUSED = {"necessary": True, "statistics": False, "media": False}


def _stats(days: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """The shape of cookieconsent_stats' answer, as far as the chart reads it."""
    categories: dict[str, dict[str, int]] = {}
    for answers in days.values():
        for category, counts in answers.items():
            total = categories.setdefault(category, {"allowed": 0, "refused": 0})
            total["allowed"] += counts["allowed"]
            total["refused"] += counts["refused"]
    return {"days": days, "categories": categories}


ONE_DAY = _stats(
    {
        "2026-11-30": {
            "media": {"allowed": 1, "refused": 3},
            "statistics": {"allowed": 4, "refused": 0},
        }
    }
)


def test_a_single_day_draws_a_mark_per_category() -> None:
    chart = charts.answers_by_day(ONE_DAY)

    marks = {line["category"]: line["marks"] for line in chart["series"]}
    assert [len(m) for m in marks.values()] == [1, 1]  # a polyline of one point draws nothing
    assert marks["media"][0]["share"] == 0.25 and marks["statistics"][0]["share"] == 1.0
    # In the plot's middle, at the heights of 25 % and 100 %.
    assert {m[0]["x"] for m in marks.values()} == {charts.WIDTH / 2}
    assert marks["statistics"][0]["y"] == charts.MARGIN
    assert marks["media"][0]["y"] == charts.HEIGHT - charts.MARGIN - 0.25 * (
        charts.HEIGHT - 2 * charts.MARGIN
    )


def test_a_single_day_is_labelled_once() -> None:
    labels = charts.answers_by_day(ONE_DAY)["labels"]

    assert labels == [{"x": charts.WIDTH / 2, "text": "2026-11-30", "anchor": "middle"}]


def test_several_days_are_spread_and_labelled_at_both_ends() -> None:
    stats = _stats(
        {
            "2026-11-28": {"media": {"allowed": 1, "refused": 1}},
            "2026-11-29": {},
            "2026-11-30": {"media": {"allowed": 0, "refused": 2}},
        }
    )

    chart = charts.answers_by_day(stats)

    (media,) = chart["series"]
    assert [m["x"] for m in media["marks"]] == [charts.MARGIN, charts.WIDTH - charts.MARGIN]
    assert media["points"].count(",") == 2  # a line between the two days with answers
    assert [label["text"] for label in chart["labels"]] == ["2026-11-28", "2026-11-30"]


def test_the_table_rows_give_the_numbers_per_day_and_category() -> None:
    stats = _stats(
        {
            "2026-11-29": {"statistics": {"allowed": 2, "refused": 1}},
            "2026-11-30": {"media": {"allowed": 1, "refused": 3}},
        }
    )

    chart = charts.answers_by_day(stats)

    assert chart["categories"] == ["media", "statistics"]
    assert chart["rows"] == [
        {"day": "2026-11-29", "cells": [
            {"allowed": 0, "refused": 0, "share": None},
            {"allowed": 2, "refused": 1, "share": 2 / 3},
        ]},
        {"day": "2026-11-30", "cells": [
            {"allowed": 1, "refused": 3, "share": 0.25},
            {"allowed": 0, "refused": 0, "share": None},
        ]},
    ]  # fmt: skip


def test_no_day_no_label_no_row() -> None:
    chart = charts.answers_by_day(_stats({}))

    assert (chart["series"], chart["labels"], chart["rows"]) == ([], [], [])


# --- On the dashboard ----------------------------------------------------------------------


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
@pytest.mark.usefixtures("with_plugins", "consent_tables")
def test_the_dashboard_draws_the_first_day_with_its_table(app: Any) -> None:
    """Records of one day (today): visible marks, one date on the axis, and the numbers in
    a table with a caption, per category allowed / refused; no inline style (strict CSP)."""
    for choices in (ACCEPTED, REFUSED, REFUSED):
        consent_record(choices=choices)
    headers = {"Authorization": factories.SysadminWithToken()["token"]}

    body = app.get("/ckan-admin/cookies", headers=headers).body

    chart = body[body.index('<figure class="cookieconsent-chart">') : body.index("</figure>")]
    assert chart.count("<circle") == 2  # one mark for each of the two categories
    day = re.findall(r'text-anchor="(?:start|middle|end)">(\d{4}-\d\d-\d\d)</text>', chart)
    assert len(day) == 1, day
    table = body[body.index('id="cookieconsent-chart-numbers"') :]
    table = table[: table.index("</table>")]
    assert "The numbers of the chart" in table
    assert f'<th scope="row">{day[0]}</th>' in table
    # Per category (media, then statistics): 1 allowed, 2 refused, 33.3 %.
    cells = re.findall(r"<td>([^<]*)</td>", table)
    assert cells == ["1", "2", "33.3%", "1", "2", "33.3%"]  # English: no space
    assert "Third-party content" in table and "Audience measurement" in table
    assert "style=" not in body[body.index("cookieconsent-period") :]
