"""Proof of consent, with the real PostgreSQL: records, revisions, access, CLI, migrations."""

from __future__ import annotations

import csv
import datetime
import http.client
import io
import logging
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import factories
from ckan.tests.helpers import call_action
from helpers import EXAMPLE, PLUGIN_MARKS, set_cookies
from helpers import choose as _choose
from helpers import consent_id as _consent_id
from record_factories import consent_records, day_bounds, policy_revision

from ckanext.cookieconsent import records
from ckanext.cookieconsent.model import ConsentRecord

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.usefixtures("consent_tables"),
]


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
    """The table the migrations made, as PostgreSQL has it (not the ORM's declaration),
    and the row a choice wrote there."""
    _choose(app.test_client(), "accept_all")
    model.Session.commit()
    columns = {c["name"] for c in sa.inspect(model.meta.engine).get_columns("cookieconsent_record")}
    # texts_id: the texts shown (proof.py), the same for every visitor of a language.
    assert columns == {
        "id", "consent_id", "revision", "choices", "created", "method", "language", "texts_id"
    }  # fmt: skip
    (row,) = model.Session.execute(sa.text("SELECT * FROM cookieconsent_record")).mappings()
    assert set(row.keys()) == columns


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
    assert model.Session.execute(sa.text("SELECT count(*) FROM cookieconsent_texts")).scalar()


def test_changes_of_mind_keep_one_consent_id_and_withdrawal_is_named(app: Any) -> None:
    client = app.test_client()
    first = _consent_id(_choose(client, "accept_all", origin="banner"))
    second = _consent_id(_choose(client, "refuse_all", origin="policy"))
    assert first == second
    assert [r.method for r in _records()] == ["banner", "withdrawal"]


def test_french_choice_is_recorded_in_french(app: Any) -> None:
    app.test_client().post("/fr/cookies/consent", data={"action": "refuse_all"})
    assert _records()[0].language == "fr"


def _count_records() -> int:
    model.Session.commit()  # see the app's writes, whatever this session read before
    return model.Session.execute(sa.text("SELECT count(*) FROM cookieconsent_record")).scalar()


def test_gpc_refusal_is_stored_once_the_browser_keeps_cookies(app: Any) -> None:
    """A browser (the test client keeps cookies): its first page sets CKAN's session
    cookie only; the next page, which brings it back, stores the implied refusal once."""
    client = app.test_client()
    first = client.get("/about", headers={"Sec-GPC": "1"})
    assert "cookies_preferences" not in set_cookies(first)
    assert "ckan" in set_cookies(first)  # what shows, next time, that cookies are kept
    assert _records() == []
    second = client.get("/about", headers={"Sec-GPC": "1"})
    assert "cookies_preferences" in set_cookies(second)
    for _ in range(5):
        client.get("/about", headers={"Sec-GPC": "1"})
    (record,) = _records()
    assert record.method == "gpc"
    assert record.consent_id == _consent_id(second)
    assert record.choices == {"necessary": True, "statistics": False, "media": False}


def test_a_thousand_cookieless_gpc_page_views_write_no_row(app: Any) -> None:
    """A crawler sending Sec-GPC: 1 and never returning cookies (a client without a cookie
    jar). No row, and no preferences cookie it would drop."""
    crawler = app.test_client(use_cookies=False)
    for _ in range(1000):
        response = crawler.get("/about", headers={"Sec-GPC": "1"})
        assert response.status_code == 200
        assert "cookies_preferences" not in set_cookies(response)
    assert _count_records() == 0


@pytest.fixture
def locked_records() -> Any:
    """The records table locked by another connection (ACCESS EXCLUSIVE: nothing may read
    or write it), as a long migration or a stuck `purge` would; released at the end.
    The locker gives up after 20 s idle, so that a regression fails instead of hanging."""
    model.Session.commit()  # this thread's session must hold no lock on the table
    model.Session.remove()
    assert model.meta.engine is not None
    engine = sa.create_engine(model.meta.engine.url)
    connection = engine.connect()
    try:
        transaction = connection.begin()  # held open while the test runs
        connection.execute(sa.text("SET lock_timeout = '5s'"))
        connection.execute(sa.text("SET idle_in_transaction_session_timeout = '20s'"))
        connection.execute(sa.text("LOCK TABLE cookieconsent_record IN ACCESS EXCLUSIVE MODE"))
        yield
        transaction.rollback()
    finally:
        connection.close()
        engine.dispose()


@pytest.mark.ckan_config("ckanext.cookieconsent.record_timeout_ms", "200")
def test_a_locked_records_table_does_not_hold_the_visitor(
    app: Any, caplog: Any, locked_records: Any
) -> None:
    caplog.set_level(logging.ERROR, logger="ckanext.cookieconsent.records")
    client = app.test_client()
    started = time.monotonic()
    response = _choose(client, "accept_all", came_from="/about")
    elapsed = time.monotonic() - started
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/about")
    assert _consent_id(response)  # the choice is kept in the cookie
    assert elapsed < 5, f"the choice waited {elapsed:.1f} s for the lock"
    assert "Could not record a cookie choice" in caplog.text
    # PostgreSQL's reason, in the log (lock_timeout or statement_timeout: both are set).
    assert re.search(r"canceling statement due to (lock|statement) timeout", caplog.text)

    # A page view that would store a GPC refusal (the browser keeps cookies) is not held.
    gpc_client = app.test_client()
    gpc_client.get("/about", headers={"Sec-GPC": "1"})  # CKAN's session cookie, no write
    started = time.monotonic()
    page = gpc_client.get("/about", headers={"Sec-GPC": "1"})
    assert page.status_code == 200
    assert "cookies_preferences" in set_cookies(page)
    assert time.monotonic() - started < 5


@pytest.mark.ckan_config("ckanext.cookieconsent.record_timeout_ms", "200")
def test_the_record_timeout_spares_a_write_that_waits_less(app: Any) -> None:
    """The timeout is local to the record's transaction: an unlocked write succeeds."""
    _choose(app.test_client(), "accept_all")
    assert _count_records() == 1
    timeout = model.Session.execute(sa.text("SHOW lock_timeout")).scalar()
    assert timeout == "0"  # this session, after the app's write: the server's default


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


RECORD_READERS = [
    "/ckan-admin/cookies",
    "/ckan-admin/cookies/export.csv",
    "/api/3/action/cookieconsent_stats",
    "/api/3/action/cookieconsent_record_show?consent_id=AAAAAAAAAAAAAAAA",
]


@pytest.mark.parametrize("url", RECORD_READERS)
def test_anonymous_visitors_cannot_read_records(app: Any, url: str) -> None:
    assert app.get(url).status_code == 403


@pytest.mark.parametrize("url", RECORD_READERS)
def test_ordinary_users_cannot_read_records(app: Any, url: str) -> None:
    headers = {"Authorization": factories.UserWithToken()["token"]}
    assert app.get(url, headers=headers).status_code == 403


def test_sysadmins_see_the_dashboard_with_its_chart(app: Any) -> None:
    client = app.test_client()
    _choose(client, "accept_all")
    _choose(app.test_client(), "refuse_all")
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    body = app.get("/ckan-admin/cookies", headers=headers).body
    assert "2 records." in body
    assert "50.0%" in body  # one of two visitors accepted all (English: no space)
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
    assert app.get(url + "AAAAAAAAAAAAAAAA", headers=headers).status_code == 404
    response = app.get(url + "not-an-id", headers=headers)
    assert response.status_code == 409
    body = response.json
    assert "consent id" in body["error"]["consent_id"][0]


# --- Periods: stats, export and purge at the boundaries -----------------------------


def _seed(*days: str) -> None:
    """Records made at the very start and end of each day (UTC)."""
    choices = {"necessary": True, "statistics": True, "media": False}
    consent_records([moment for day in days for moment in day_bounds(day)], choices=choices)


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


def test_export_csv_is_never_stored_by_a_cache(app: Any) -> None:
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    response = app.get("/ckan-admin/cookies/export.csv", headers=headers)
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert directives == {"private", "no-store"}
    dashboard = app.get("/ckan-admin/cookies", headers=headers)
    assert "public" not in dashboard.headers["Cache-Control"]


def _get_over_http(base_url: str, path: str, token: str) -> http.client.HTTPResponse:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", path, headers={"Authorization": token})
    return connection.getresponse()  # closes the connection when read


def test_export_csv_failing_before_it_starts_is_an_error_not_an_empty_file(
    live_server: str,
) -> None:
    """Over real HTTP: the query fails (no records table) before any header is sent."""
    token = factories.SysadminWithToken()["token"]
    model.Session.execute(
        sa.text("ALTER TABLE cookieconsent_record RENAME TO cookieconsent_record_away")
    )
    model.Session.commit()
    try:
        response = _get_over_http(live_server, "/ckan-admin/cookies/export.csv", token)
        assert response.status == 500
        assert not (response.getheader("Content-Type") or "").startswith("text/csv")
        response.read()
    finally:
        model.Session.rollback()
        model.Session.execute(
            sa.text("ALTER TABLE cookieconsent_record_away RENAME TO cookieconsent_record")
        )
        model.Session.commit()


def _seed_export_that_fails_midway(good: int) -> None:
    """`good` records, then one PostgreSQL holds and Python cannot read (year 12000: a
    timestamp PostgreSQL accepts, beyond datetime's year 9999). Reading fails on it, after
    the first batch of records has been sent. In SQL: the ORM cannot write that year."""
    policy_revision()
    model.Session.execute(
        sa.text(
            "INSERT INTO cookieconsent_record (consent_id, revision, choices, created, method,"
            " language) SELECT 'SSSSSSSSSSSSSSSS', 'seeded', '{\"media\": true}',"
            " timestamptz '2026-11-01' + n * interval '1 second', 'banner', 'en'"
            " FROM generate_series(1, :good) AS n"
        ),
        {"good": good},
    )
    model.Session.execute(
        sa.text(
            "INSERT INTO cookieconsent_record (consent_id, revision, choices, created, method,"
            " language) VALUES ('SSSSSSSSSSSSSSSS', 'seeded', '{}', '12000-01-01', 'banner',"
            " 'en')"
        )
    )
    model.Session.commit()


def test_export_csv_failing_midway_is_visibly_incomplete(live_server: str, caplog: Any) -> None:
    """Over real HTTP: the headers and 1,000 records are sent when reading fails. The file
    ends with a line saying so and the transfer is cut short (no last chunk): a client
    cannot take it for a complete export."""
    _seed_export_that_fails_midway(1500)
    token = factories.SysadminWithToken()["token"]
    caplog.set_level(logging.ERROR, logger="ckanext.cookieconsent.records")
    response = _get_over_http(live_server, "/ckan-admin/cookies/export.csv", token)
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    with pytest.raises(http.client.IncompleteRead) as truncated:
        response.read()
    lines = truncated.value.partial.decode().splitlines()
    assert lines[0] == ",".join(records.CSV_COLUMNS)
    sent = len(lines) - 2
    assert sent >= 1000  # the first batch went out before the failure
    assert lines[-1] == f"# export failed after {sent} record(s): ValueError; see the server log"
    assert f"The consent records export failed after {sent} record(s)" in caplog.text


def test_cli_export_failing_midway_is_a_one_line_error(cli: Any, tmp_path: Any) -> None:
    _seed_export_that_fails_midway(1500)
    output = tmp_path / "records.csv"
    result = cli.invoke(ckan_command, ["cookieconsent", "export", "--output", str(output)])
    assert result.exit_code == 1
    # The log's one line, then click's: no traceback.
    assert result.output.splitlines()[-1] == "Error: The export failed: year 12000 is out of range"
    assert "Traceback" not in result.output
    assert output.read_text().splitlines()[-1].startswith("# export failed after ")


def test_bad_dates_are_refused(app: Any) -> None:
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    assert app.get("/ckan-admin/cookies?since=yesterday", headers=headers).status_code == 400
    response = app.get("/api/3/action/cookieconsent_stats?until=2026-13-01", headers=headers)
    assert response.status_code == 409
    body = response.json
    assert "YYYY-MM-DD" in body["error"]["until"][0]


def _days_ago(days: int) -> str:
    return (records.now() - datetime.timedelta(days=days)).date().isoformat()


def test_cli_export_and_purge_at_the_boundary(app: Any, cli: Any, tmp_path: Any) -> None:
    # Older than cookie_max_age (180 days): purge may delete them.
    day_before, day = _days_ago(401), _days_ago(400)
    _seed(day_before, day)
    output = tmp_path / "records.csv"
    result = cli.invoke(ckan_command, ["cookieconsent", "export", "--since", day,
                                       "--output", str(output)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(output.read_text().splitlines()) == 1 + 2

    result = cli.invoke(ckan_command, ["cookieconsent", "purge", "--older-than", day])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 consent record(s)" in result.output
    assert [r.created.date().isoformat() for r in _records()] == [day, day]

    again = cli.invoke(ckan_command, ["cookieconsent", "purge", "--older-than", day])
    assert "Deleted 0 consent record(s)" in again.output  # safe to repeat from cron


def test_cli_purge_dry_run_counts_and_deletes_nothing(app: Any, cli: Any) -> None:
    _seed(_days_ago(401), _days_ago(400))
    result = cli.invoke(ckan_command, ["cookieconsent", "purge", "--older-than", _days_ago(400),
                                       "--dry-run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Would delete 2 consent record(s) made before " in result.output
    assert "dry run: nothing deleted" in result.output
    assert len(_records()) == 4


def test_cli_purge_deletes_in_batches(app: Any) -> None:
    _seed(*(_days_ago(400 + n) for n in range(5)))  # 10 records
    assert records.purge(records.parse_day(_days_ago(399)), batch=3) == 10
    assert _records() == []


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
