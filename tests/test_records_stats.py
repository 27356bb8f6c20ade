"""The statistics, read from the daily counts the triggers keep, equal the straightforward
count of every record.

A few thousand records written by SQL (as a bulk import or a restore would write them: no
application code involved), over several revisions, days and time zones' midnights, with
every combination of answers, unknown categories and required ones; then records.stats()
is compared, key by key, with a plain Python count over all the rows: after inserts, SQL
updates and deletes, a purge, a TRUNCATE, and a rebuild.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.cli.cli import ckan as ckan_command
from helpers import EXAMPLE, PLUGIN_MARKS
from record_factories import policy_revision

from ckanext.cookieconsent import catalogue, records
from ckanext.cookieconsent.model import ConsentRecord

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.usefixtures("consent_tables"),
]

UTC = datetime.timezone.utc
RECORDS = 4_000


def _bulk_insert() -> None:
    """RECORDS rows in one INSERT ... SELECT: answers vary with the row number, times
    spread over 40 days at uneven hours (some just before and after midnight UTC)."""
    for revision in ("rev-a", "rev-b", "rev-c"):
        policy_revision(revision)
    model.Session.execute(
        sa.text(
            """
            INSERT INTO cookieconsent_record
                (consent_id, revision, choices, created, method, language)
            SELECT lpad(n::text, 16, 'x'),
                   (ARRAY['rev-a', 'rev-b', 'rev-c'])[1 + n % 3],
                   CASE n % 7
                     WHEN 0 THEN '{"necessary": true}'::jsonb
                     WHEN 1 THEN jsonb_build_object('necessary', true, 'statistics', n % 2 = 0,
                                                    'media', n % 3 = 0)
                     WHEN 2 THEN jsonb_build_object('necessary', true, 'statistics', true,
                                                    'media', true)
                     WHEN 3 THEN jsonb_build_object('necessary', true, 'statistics', false,
                                                    'media', false)
                     WHEN 4 THEN jsonb_build_object('statistics', n % 5 = 0, 'retired', true)
                     WHEN 5 THEN '{}'::jsonb
                     ELSE jsonb_build_object('necessary', true, 'media', n % 4 = 0)
                   END,
                   timestamptz '2026-10-01 00:00:00+00'
                     + (n % 40) * interval '1 day'
                     + CASE WHEN n % 11 = 0 THEN interval '-1 second'
                            ELSE ((n * 37) % 1440) * interval '1 minute' END,
                   'banner', 'en'
            FROM generate_series(1, :count) AS n
            """
        ),
        {"count": RECORDS},
    )
    model.Session.commit()


def _straightforward(
    since: datetime.datetime | None, until: datetime.datetime | None
) -> dict[str, Any]:
    """The statistics counted record by record, as the definition reads."""
    query = model.Session.query(ConsentRecord)
    if since is not None:
        query = query.filter(ConsentRecord.created >= since)
    if until is not None:
        query = query.filter(ConsentRecord.created < until)
    required = catalogue.current().required_category_ids
    revisions: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, int]] = {}
    days: dict[str, dict[str, dict[str, int]]] = {}
    rows = query.all()
    for row in rows:
        optional = {k: v for k, v in row.choices.items() if k not in required}
        revision = revisions.setdefault(
            row.revision, {"records": 0, "accepted_all": 0, "refused_all": 0}
        )
        revision["records"] += 1
        revision["accepted_all"] += int(bool(optional) and all(optional.values()))
        revision["refused_all"] += int(not any(optional.values()))
        day = days.setdefault(row.created.astimezone(UTC).date().isoformat(), {})
        for category, allowed in optional.items():
            answer = "allowed" if allowed else "refused"
            categories.setdefault(category, {"allowed": 0, "refused": 0})[answer] += 1
            day.setdefault(category, {"allowed": 0, "refused": 0})[answer] += 1
    for revision in revisions.values():
        revision["acceptance_rate"] = round(revision["accepted_all"] / revision["records"], 4)
    return {
        "total": len(rows),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "revisions": revisions,
        "categories": categories,
        "days": dict(sorted(days.items())),
    }


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (None, None),
        ("2026-10-05", None),
        (None, "2026-10-20"),
        ("2026-10-07", "2026-10-08"),
        ("2027-01-01", None),  # nothing in the period
    ],
)
def test_stats_equal_the_count_of_every_record(
    app: Any, since: str | None, until: str | None
) -> None:
    _bulk_insert()
    start = records.parse_day(since) if since else None
    end = records.parse_day(until, end=True) if until else None
    expected = _straightforward(start, end)
    assert records.stats(start, end) == expected
    if since is None and until is None:
        # The fixture itself: every record counted, several revisions, days and answers.
        assert expected["total"] == RECORDS
        assert set(expected["revisions"]) == {"rev-a", "rev-b", "rev-c"}
        assert len(expected["days"]) == 41  # 40 days, and the second before the first
        assert {"statistics", "media", "retired"} <= set(expected["categories"])


def test_days_are_counted_in_utc_whatever_the_session_time_zone(app: Any) -> None:
    _bulk_insert()
    expected = _straightforward(None, None)
    model.Session.execute(sa.text("SET TIME ZONE 'Pacific/Kiritimati'"))  # UTC+14
    try:
        assert records.stats()["days"] == expected["days"]
    finally:
        model.Session.execute(sa.text("SET TIME ZONE 'UTC'"))


def _whole() -> dict[str, Any]:
    return records.stats()


def test_sql_updates_deletes_and_purges_keep_the_counts_right(app: Any) -> None:
    _bulk_insert()
    model.Session.execute(
        sa.text(
            "UPDATE cookieconsent_record SET choices = choices || '{\"media\": true}'"
            " WHERE id % 5 = 0"
        )
    )
    model.Session.execute(sa.text("DELETE FROM cookieconsent_record WHERE id % 13 = 0"))
    model.Session.commit()
    assert _whole() == _straightforward(None, None)
    records.purge(datetime.datetime(2026, 10, 20, tzinfo=UTC), batch=500)
    expected = _straightforward(None, None)
    assert _whole() == expected
    assert min(expected["days"]) == "2026-10-20"


def test_truncate_and_rebuild(app: Any, cli: Any) -> None:
    _bulk_insert()
    model.Session.execute(sa.text("TRUNCATE cookieconsent_record"))
    model.Session.commit()
    assert _whole()["total"] == 0
    _bulk_insert()
    # A restore that bypassed the triggers: the counts are wrong until rebuilt.
    model.Session.execute(sa.text("DELETE FROM cookieconsent_daily WHERE records > 10"))
    model.Session.commit()
    assert _whole() != _straightforward(None, None)
    result = cli.invoke(ckan_command, ["cookieconsent", "rebuild-stats"])
    assert result.exit_code == 0, result.output
    # The last line: CKAN 2.11 logs a start-up warning on the same output first.
    assert re.fullmatch(
        r"Daily counts rebuilt: [1-9][0-9]* row\(s\)\.", result.output.splitlines()[-1]
    )
    model.Session.expire_all()
    assert _whole() == _straightforward(None, None)


def test_a_period_not_at_midnight_is_counted_from_the_records(app: Any) -> None:
    _bulk_insert()
    start = datetime.datetime(2026, 10, 5, 12, 30, tzinfo=UTC)
    end = datetime.datetime(2026, 10, 9, 6, 0, tzinfo=UTC)
    expected = _straightforward(start, end)
    assert 0 < expected["total"] < RECORDS
    assert records.stats(start, end) == expected
