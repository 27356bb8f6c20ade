"""Proof of consent, with the real PostgreSQL: records, revisions, access, CLI, migrations."""

from __future__ import annotations

import csv
import datetime
import io
import logging
from http.cookies import SimpleCookie
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.cookieconsent import records
from ckanext.cookieconsent.model import ConsentRecord

EXAMPLE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
UTC = datetime.timezone.utc

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.usefixtures("with_plugins", "consent_tables"),
]


@pytest.fixture
def consent_tables(clean_db: Any, migrate_db_for: Any) -> None:
    """A clean database with the extension's tables (`ckan db upgrade -p cookieconsent`)."""
    migrate_db_for("cookieconsent")


def _choose(client: Any, action: str, **form: Any) -> Any:
    return client.post("/cookies/consent", data={"action": action, **form}, follow_redirects=False)


def _consent_id(response: Any) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "cookies_preferences" in cookie:
            return cookie["cookies_preferences"].value.split(":")[3]
    raise AssertionError("no preferences cookie set")


def _records() -> list[ConsentRecord]:
    model.Session.expire_all()
    return model.Session.query(ConsentRecord).order_by(ConsentRecord.id).all()


# --- Writing records ---------------------------------------------------------------


def test_a_choice_writes_exactly_one_record(app: Any) -> None:
    response = _choose(app.test_client(), "save", granted="media", origin="banner")
    (record,) = _records()
    assert record.consent_id == _consent_id(response)
    assert record.choices == {"necessary": True, "statistics": False, "media": True}
    assert (record.method, record.language) == ("banner", "en")
    assert abs((records.now() - record.created).total_seconds()) < 60


def test_a_record_holds_no_personal_data_beyond_the_consent_id(app: Any) -> None:
    _choose(app.test_client(), "accept_all")
    columns = set(ConsentRecord.__table__.columns.keys())
    assert columns == {"id", "consent_id", "revision", "choices", "created", "method", "language"}


def test_the_record_shows_the_revision_text_it_answered(app: Any) -> None:
    consent_id = _consent_id(_choose(app.test_client(), "accept_all"))
    history = records.history(consent_id)
    assert len(history) == 1
    policy = history[0]["policy"]
    assert policy["revision"] == history[0]["revision"]
    titles = {c["id"]: c["title"] for c in policy["categories"]}
    assert titles["media"] == {"en": "Third-party content", "fr": "Contenus tiers"}
    assert {c["name"] for c in policy["cookies"]} >= {"YSC", "_pk_id.*", "cookies_preferences"}


def test_the_revision_is_stored_once(app: Any) -> None:
    client = app.test_client()
    _choose(client, "accept_all")
    _choose(client, "refuse_all")
    count = model.Session.execute(sa.text("SELECT count(*) FROM cookieconsent_revision")).scalar()
    assert count == 1


def test_a_revision_lost_from_the_database_is_stored_again(app: Any) -> None:
    """The process remembers which revisions are stored; a reset database is caught."""
    _choose(app.test_client(), "accept_all")
    model.Session.execute(sa.text("DELETE FROM cookieconsent_record"))
    model.Session.execute(sa.text("DELETE FROM cookieconsent_revision"))
    model.Session.commit()
    _choose(app.test_client(), "refuse_all")
    assert len(_records()) == 1
    assert model.Session.execute(sa.text("SELECT count(*) FROM cookieconsent_revision")).scalar()


def test_changes_of_mind_keep_one_consent_id_and_withdrawal_is_named(app: Any) -> None:
    client = app.test_client()
    first = _consent_id(_choose(client, "accept_all", origin="banner"))
    second = _consent_id(_choose(client, "refuse_all", origin="policy"))
    assert first == second
    assert [r.method for r in _records()] == ["banner", "withdrawal"]


def test_french_choice_is_recorded_in_french(app: Any) -> None:
    app.test_client().post("/fr/cookies/consent", data={"action": "refuse_all"})
    assert _records()[0].language == "fr"


def test_gpc_default_is_recorded_once(app: Any) -> None:
    client = app.test_client()
    first = client.get("/about", headers={"Sec-GPC": "1"})
    assert "cookies_preferences" in first.headers.get("Set-Cookie", "")
    client.get("/about", headers={"Sec-GPC": "1"})
    (record,) = _records()
    assert record.method == "gpc"
    assert record.choices == {"necessary": True, "statistics": False, "media": False}


@pytest.mark.ckan_config("ckanext.cookieconsent.records", False)
def test_records_can_be_switched_off(app: Any) -> None:
    assert _choose(app.test_client(), "accept_all").status_code == 303
    assert _records() == []


def test_a_database_failure_still_sets_the_cookie(app: Any, caplog: Any) -> None:
    """A real failure: the records table is renamed away while the visitor chooses."""
    model.Session.execute(
        sa.text("ALTER TABLE cookieconsent_record RENAME TO cookieconsent_record_away")
    )
    model.Session.commit()
    try:
        caplog.set_level(logging.ERROR)
        response = _choose(app.test_client(), "accept_all", came_from="/about")
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/about")
        assert _consent_id(response)
        assert "Could not record a cookie choice" in caplog.text
    finally:
        model.Session.rollback()
        model.Session.execute(
            sa.text("ALTER TABLE cookieconsent_record_away RENAME TO cookieconsent_record")
        )
        model.Session.commit()
    assert _records() == []
    assert app.get("/about").status_code == 200  # and the site goes on


# --- Access ------------------------------------------------------------------------


def test_anonymous_visitors_cannot_read_records(app: Any) -> None:
    assert app.get("/ckan-admin/cookies", status=403)
    assert app.get("/api/3/action/cookieconsent_stats", status=403)
    assert app.get("/api/3/action/cookieconsent_record_show?consent_id=AAAAAAAAAAAAAAAA",
                   status=403)  # fmt: skip


def test_ordinary_users_cannot_read_records(app: Any) -> None:
    headers = {"Authorization": factories.UserWithToken()["token"]}
    assert app.get("/ckan-admin/cookies", headers=headers, status=403)
    assert app.get("/ckan-admin/cookies/export.csv", headers=headers, status=403)
    assert app.get("/api/3/action/cookieconsent_stats", headers=headers, status=403)


def test_sysadmins_see_the_dashboard_with_its_chart(app: Any) -> None:
    client = app.test_client()
    _choose(client, "accept_all")
    _choose(app.test_client(), "refuse_all")
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    body = app.get("/ckan-admin/cookies", headers=headers).body
    assert "2 records." in body
    assert "50.0 %" in body  # one of two visitors accepted all
    assert "<polyline" in body and "Third-party content" in body
    assert 'href="/ckan-admin/cookies"' in app.get("/ckan-admin", headers=headers).body


def test_record_show_gives_the_history_of_a_consent_id(app: Any) -> None:
    client = app.test_client()
    consent_id = _consent_id(_choose(client, "accept_all"))
    _choose(client, "save", granted="media")
    result = call_action("cookieconsent_record_show", consent_id=consent_id)
    assert [r["choices"]["statistics"] for r in result["records"]] == [True, False]
    assert result["records"][0]["policy"]["revision"] == result["records"][0]["revision"]


def test_record_show_refuses_bad_or_unknown_ids(app: Any) -> None:
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    url = "/api/3/action/cookieconsent_record_show?consent_id="
    assert app.get(url + "AAAAAAAAAAAAAAAA", headers=headers, status=404)
    body = app.get(url + "not-an-id", headers=headers, status=409).json
    assert "consent id" in body["error"]["consent_id"][0]


# --- Periods: stats, export and purge at the boundaries -----------------------------


def _seed(*days: str) -> None:
    """Records made at the very start and end of each day (UTC)."""
    app_choice = {"necessary": True, "statistics": True, "media": False}
    for day in days:
        start = datetime.datetime.fromisoformat(day).replace(tzinfo=UTC)
        for moment in (start, start + datetime.timedelta(hours=23, minutes=59, seconds=59)):
            model.Session.execute(
                sa.text(
                    "INSERT INTO cookieconsent_revision (revision, created, catalogue) "
                    "VALUES ('seeded', now(), '{}') ON CONFLICT DO NOTHING"
                )
            )
            model.Session.add(
                ConsentRecord(
                    consent_id="S" * 16,
                    revision="seeded",
                    choices=app_choice,
                    created=moment,
                    method="banner",
                    language="en",
                )
            )
    model.Session.commit()


def test_stats_over_a_period_include_both_boundary_days_whole(app: Any) -> None:
    _seed("2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01")
    result = call_action("cookieconsent_stats", since="2026-11-01", until="2026-11-30")
    assert result["total"] == 4
    assert list(result["days"]) == ["2026-11-01", "2026-11-30"]
    assert result["categories"]["statistics"] == {"allowed": 4, "refused": 0}


def test_export_csv_covers_the_range_and_nothing_else(app: Any) -> None:
    _seed("2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01")
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    response = app.get(
        "/ckan-admin/cookies/export.csv?since=2026-11-01&until=2026-11-30", headers=headers
    )
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body)))
    assert [r["created"][:19] for r in rows] == [
        "2026-11-01T00:00:00", "2026-11-01T23:59:59", "2026-11-30T00:00:00", "2026-11-30T23:59:59",
    ]  # fmt: skip
    assert rows[0]["choices"] == "media=0 necessary=1 statistics=1"


def test_bad_dates_are_refused(app: Any) -> None:
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    assert app.get("/ckan-admin/cookies?since=yesterday", headers=headers, status=400)
    body = app.get("/api/3/action/cookieconsent_stats?until=2026-13-01", headers=headers,
                   status=409).json  # fmt: skip
    assert "YYYY-MM-DD" in body["error"]["until"][0]


def test_cli_export_and_purge_at_the_boundary(app: Any, cli: Any, tmp_path: Any) -> None:
    _seed("2026-10-31", "2026-11-01")
    output = tmp_path / "records.csv"
    result = cli.invoke(ckan_command, ["cookieconsent", "export", "--since", "2026-11-01",
                                       "--output", str(output)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(output.read_text().splitlines()) == 1 + 2

    result = cli.invoke(ckan_command, ["cookieconsent", "purge", "--older-than", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 consent record(s)" in result.output
    assert [r.created.date().isoformat() for r in _records()] == ["2026-11-01", "2026-11-01"]

    again = cli.invoke(ckan_command, ["cookieconsent", "purge", "--older-than", "2026-11-01"])
    assert "Deleted 0 consent record(s)" in again.output  # safe to repeat from cron


def test_cli_purge_defaults_to_the_retention_period(app: Any, cli: Any) -> None:
    _seed((records.now() - datetime.timedelta(days=761)).date().isoformat())
    _seed((records.now() - datetime.timedelta(days=759)).date().isoformat())
    result = cli.invoke(ckan_command, ["cookieconsent", "purge"])
    assert "Deleted 2 consent record(s)" in result.output
    assert len(_records()) == 2


def test_cli_stats_prints_json(app: Any, cli: Any) -> None:
    _seed("2026-11-01")
    result = cli.invoke(ckan_command, ["cookieconsent", "stats"])
    assert result.exit_code == 0, result.output
    assert '"total": 2' in result.output


# --- Migrations ---------------------------------------------------------------------


def test_migration_goes_down_and_up(migrate_db_for: Any) -> None:
    def tables() -> set[str]:
        inspector = sa.inspect(model.meta.engine)
        return {t for t in inspector.get_table_names() if t.startswith("cookieconsent_")}

    assert tables() >= {"cookieconsent_record", "cookieconsent_revision"}
    model.Session.remove()
    migrate_db_for("cookieconsent", "base", forward=False)
    assert tables() == {"cookieconsent_alembic_version"}
    migrate_db_for("cookieconsent")
    assert tables() >= {"cookieconsent_record", "cookieconsent_revision"}
