"""Hostile and extreme input to every date, number and id of the actions, the sysadmins'
views and the CLI: a clean 409 (actions), 400 (views) or one-line usage error (CLI), or a
correct answer; never a 500 or a traceback. With the real PostgreSQL and CKAN's app."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ckan.plugins as p
import pytest
import sqlalchemy as sa
from ckan import model
from ckan.cli.cli import ckan as ckan_command
from ckan.exceptions import CkanConfigurationException
from ckan.tests import factories
from helpers import PLUGIN_MARKS
from record_factories import consent_record, consent_records, day_bounds

from ckanext.cookieconsent import records

ROOT = Path(__file__).resolve().parent.parent
API = "/api/3/action/"
SEEDED_DAY = "2026-11-01"

pytestmark = [*PLUGIN_MARKS, pytest.mark.usefixtures("two_records")]


@pytest.fixture
def two_records(consent_tables: None) -> None:
    """A clean database with the extension's tables, and two records on SEEDED_DAY."""
    consent_records(day_bounds(SEEDED_DAY))


@pytest.fixture
def sysadmin() -> dict[str, str]:
    return {"Authorization": factories.SysadminWithToken()["token"]}


def _count() -> int:
    model.Session.commit()
    return model.Session.execute(sa.text("SELECT count(*) FROM cookieconsent_record")).scalar()


# --- The actions: 409 naming the parameter ----------------------------------------

# Dates that are no date YYYY-MM-DD (some are, to Python's date.fromisoformat).
NOT_DATES = [
    "10000-01-01",  # past the last day there is
    "2026-02-30",
    "2026-13-01",
    "2026-11-01\n",  # a trailing newline
    " 2026-11-01",
    "20261101",  # ISO's basic form: fromisoformat takes it
    "2026-W44-7",  # an ISO week date: fromisoformat takes it
    "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff10\uff11",  # fullwidth digits
    "2026-11-01T00:00",
    "",
]


@pytest.mark.parametrize("value", NOT_DATES)
@pytest.mark.parametrize("field", ["since", "until"])
def test_stats_refuses_what_is_not_a_date(
    app: Any, sysadmin: dict[str, str], field: str, value: str
) -> None:
    body = app.get(API + "cookieconsent_stats", query_string={field: value}, headers=sysadmin,
                   status=409).json  # fmt: skip
    assert body["error"][field] == [f"Expected a date as YYYY-MM-DD, not {value!r}."]


@pytest.mark.parametrize("value", [20261101, ["2026-11-01"], {"day": "2026-11-01"}, True])
def test_stats_refuses_dates_that_are_not_strings(
    app: Any, sysadmin: dict[str, str], value: Any
) -> None:
    body = app.post(API + "cookieconsent_stats", json={"until": value}, headers=sysadmin,
                    status=409).json  # fmt: skip
    assert body["error"]["until"][0].startswith("Expected a date as YYYY-MM-DD")


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"until": "9999-12-31"}, 2),  # its next day overflows: as good as no end
        ({"since": "9999-12-31"}, 0),
        ({"since": "0001-01-01", "until": "9999-12-31"}, 2),
        ({"since": SEEDED_DAY, "until": SEEDED_DAY}, 2),  # one day, whole
    ],
)
def test_stats_answers_the_extreme_periods(
    app: Any, sysadmin: dict[str, str], params: dict[str, str], total: int
) -> None:
    body = app.get(API + "cookieconsent_stats", query_string=params, headers=sysadmin).json
    assert body["result"]["total"] == total


def test_stats_refuses_a_period_that_ends_before_it_starts(
    app: Any, sysadmin: dict[str, str]
) -> None:
    params = {"since": "2026-11-02", "until": SEEDED_DAY}
    body = app.get(API + "cookieconsent_stats", query_string=params, headers=sysadmin,
                   status=409).json  # fmt: skip
    assert body["error"]["since"] == [
        "The first day (since, 2026-11-02) is after the last day (until, 2026-11-01)."
    ]


@pytest.mark.parametrize(
    "consent_id",
    [
        "A" * 16 + "\n",  # `$` would match before it: a 404 instead of a 409
        "\n" + "A" * 16,
        "A" * 15,
        "A" * 17,
        "AAAAAAAAAAAAAAA=",
        "AAAAAAAA AAAAAAA",
        "ÀAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAA\x00",
    ],
)
def test_record_show_refuses_what_is_not_a_consent_id(
    app: Any, sysadmin: dict[str, str], consent_id: str
) -> None:
    url = API + "cookieconsent_record_show"
    body = app.get(url, query_string={"consent_id": consent_id}, headers=sysadmin,
                   status=409).json  # fmt: skip
    assert body["error"]["consent_id"] == ["Expected a consent id: 16 letters, digits, - or _."]


@pytest.mark.parametrize("consent_id", [1234567890123456, ["S" * 16], {"id": "S" * 16}])
def test_record_show_refuses_consent_ids_that_are_not_strings(
    app: Any, sysadmin: dict[str, str], consent_id: Any
) -> None:
    body = app.post(API + "cookieconsent_record_show", json={"consent_id": consent_id},
                    headers=sysadmin, status=409).json  # fmt: skip
    assert "consent_id" in body["error"]


def test_record_show_still_finds_a_good_id(app: Any, sysadmin: dict[str, str]) -> None:
    url = API + "cookieconsent_record_show"
    body = app.get(url, query_string={"consent_id": "S" * 16}, headers=sysadmin).json
    assert len(body["result"]["records"]) == 2


# --- The dashboard and the CSV export: 400 with a message ----------------------------

VIEWS = ["/ckan-admin/cookies", "/ckan-admin/cookies/export.csv"]
DATE_FORMAT = "Dates must be given as YYYY-MM-DD."
INVERTED = "The first day of the period is after its last day."


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("until=10000-01-01", DATE_FORMAT),
        ("since=2026-11-01%0A", DATE_FORMAT),
        ("until=20261101", DATE_FORMAT),
        ("since=2026-02-30", DATE_FORMAT),
        ("since=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11-01", DATE_FORMAT),  # fullwidth
        ("since=2026-11-02&until=2026-11-01", INVERTED),
    ],
)
@pytest.mark.parametrize("path", VIEWS)
def test_views_refuse_bad_periods_with_400(
    app: Any, sysadmin: dict[str, str], path: str, query: str, message: str
) -> None:
    response = app.get(f"{path}?{query}", headers=sysadmin, status=400)
    assert message in response.body


@pytest.mark.parametrize(
    ("query", "records_shown"),
    [
        ("until=9999-12-31", 2),
        ("since=9999-12-31", 0),
        ("since=0001-01-01&until=9999-12-31", 2),
        ("since=&until=", 2),  # empty fields of the dashboard's form: no bound
    ],
)
@pytest.mark.parametrize("path", VIEWS)
def test_views_answer_the_extreme_periods(
    app: Any, sysadmin: dict[str, str], path: str, query: str, records_shown: int
) -> None:
    body = app.get(f"{path}?{query}", headers=sysadmin).body
    if path.endswith(".csv"):
        assert len(body.splitlines()) == 1 + records_shown
    else:
        assert f"{records_shown} records." in body


def test_the_inverted_period_is_explained_in_french(app: Any, sysadmin: dict[str, str]) -> None:
    response = app.get("/fr/ckan-admin/cookies?since=2026-11-02&until=2026-11-01",
                       headers=sysadmin, status=400)  # fmt: skip
    assert "Le premier jour de la période est postérieur au dernier." in response.body


# --- The CLI: one-line usage errors --------------------------------------------------


def _invoke(cli: Any, *args: str) -> Any:
    return cli.invoke(ckan_command, ["cookieconsent", *args])


def _usage_error(result: Any, option: str) -> str:
    """The message of click's usage error about `option`; fails on anything else."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    prefix = f"Error: Invalid value for '{option}': "
    (line,) = [line for line in result.output.splitlines() if line.startswith(prefix)]
    return line.removeprefix(prefix)


def _days_ago(days: int) -> str:
    return (records.now() - datetime.timedelta(days=days)).date().isoformat()


def _in_days(days: int) -> str:
    return (records.now() + datetime.timedelta(days=days)).date().isoformat()


@pytest.mark.parametrize(
    "value",
    ["²", "٣", "-5", "1.5", "5 ", " 5", "", "1e3", "0x10", "+5", "2026-13-01", "10000-01-01"],
)
def test_purge_refuses_what_is_neither_days_nor_a_date(cli: Any, value: str) -> None:
    message = _usage_error(_invoke(cli, "purge", "--older-than", value), "--older-than")
    assert message == f"expected a number of days or a date YYYY-MM-DD, not {value!r}."
    assert _count() == 2


@pytest.mark.parametrize("value", ["0", "1", "179", _days_ago(10), _days_ago(179)])
def test_purge_refuses_to_delete_the_proof_of_choices_in_force(cli: Any, value: str) -> None:
    """cookie_max_age is 180 days: a record younger than that proves a valid choice."""
    message = _usage_error(_invoke(cli, "purge", "--older-than", value), "--older-than")
    assert "younger than ckanext.cookieconsent.cookie_max_age (15552000 seconds, 180 days)" in (
        message
    )
    assert "Give at least 180 days, or a date on or before " in message
    assert _count() == 2


@pytest.mark.parametrize("value", [_in_days(1), "9999-12-31"])
def test_purge_refuses_a_future_date(cli: Any, value: str) -> None:
    message = _usage_error(_invoke(cli, "purge", "--older-than", value), "--older-than")
    assert message.startswith(f"{value} is in the future")
    assert _count() == 2


@pytest.mark.parametrize(
    ("value", "deleted"),
    [
        ("99999999", 0),  # timedelta overflows: older than any record, so none
        ("9" * 5000, 0),  # more digits than int() reads by default
        ("0001-01-01", 0),
        ("0000000180", 1),  # leading zeros: 180 days
        ("180", 1),  # exactly cookie_max_age
        (_days_ago(180), 1),
    ],
)
def test_purge_accepts_every_allowed_cut_off(cli: Any, value: str, deleted: int) -> None:
    old = records.now() - datetime.timedelta(days=400)
    consent_record(old, consent_id="O" * 16, choices={})
    result = _invoke(cli, "purge", "--older-than", value)
    assert result.exit_code == 0, result.output
    assert f"Deleted {deleted} consent record(s) made before " in result.output
    assert _count() == 3 - deleted


def test_purge_at_the_oldest_cut_off_says_year_one(cli: Any) -> None:
    result = _invoke(cli, "purge", "--older-than", "99999999", "--dry-run")
    # The last line: CKAN 2.11 logs a warning first, which CliRunner mixes in.
    assert result.output.splitlines()[-1] == (
        "Would delete 0 consent record(s) made before 0001-01-01T00:00:00+00:00 "
        "(dry run: nothing deleted)."
    )


@pytest.mark.usefixtures("with_extended_cli")  # the CLI sees this test's ckan_config
@pytest.mark.ckan_config("ckanext.cookieconsent.cookie_max_age", "86400")
@pytest.mark.ckan_config("ckanext.cookieconsent.retention_days", "1")
def test_purge_follows_cookie_max_age(cli: Any) -> None:
    assert _invoke(cli, "purge", "--older-than", "1", "--dry-run").exit_code == 0
    message = _usage_error(_invoke(cli, "purge", "--older-than", "0"), "--older-than")
    assert "cookie_max_age (86400 seconds, 1 days)" in message


@pytest.mark.parametrize("command", ["stats", "export"])
@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--until", "10000-01-01"], "--until",
         "Expected a date as YYYY-MM-DD, not '10000-01-01'."),
        (["--since", "2026-11-01\n"], "--since",
         "Expected a date as YYYY-MM-DD, not '2026-11-01\\n'."),
        (["--since", "²⁰²⁶-11-01"], "--since",
         "Expected a date as YYYY-MM-DD, not '²⁰²⁶-11-01'."),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "--since",
         "The first day (since, 2026-11-02) is after the last day (until, 2026-11-01)."),
    ],
)  # fmt: skip
def test_cli_periods_refuse_bad_dates(
    cli: Any, command: str, args: list[str], option: str, message: str
) -> None:
    assert _usage_error(_invoke(cli, command, *args), option) == message


@pytest.mark.parametrize(
    ("args", "total"),
    [(["--until", "9999-12-31"], 2), (["--since", "9999-12-31"], 0)],
)
def test_cli_periods_answer_the_extreme_periods(
    cli: Any, tmp_path: Path, args: list[str], total: int
) -> None:
    stats = _invoke(cli, "stats", *args)
    assert stats.exit_code == 0, stats.output
    assert f'"total": {total}' in stats.output
    output = tmp_path / "records.csv"
    export = _invoke(cli, "export", *args, "--output", str(output))
    assert export.exit_code == 0, export.output
    assert len(output.read_text().splitlines()) == 1 + total


# --- Start-up: the retention period must outlive the choices -------------------------


def _restart(ckan_config: Any, **options: str) -> None:
    """Load the plugins again, as CKAN does at start-up, with these options."""
    for key, value in options.items():
        ckan_config[f"ckanext.cookieconsent.{key}"] = value
    p.unload_all()
    p.load_all()


def test_ckan_refuses_to_start_when_records_die_before_the_choices(ckan_config: Any) -> None:
    try:
        with pytest.raises(CkanConfigurationException) as refused:
            _restart(ckan_config, retention_days="179")
    finally:
        p.unload_all()
    message = str(refused.value)
    assert "ckanext.cookieconsent.retention_days = 179" in message
    assert "ckanext.cookieconsent.cookie_max_age = 15552000" in message
    assert "Set retention_days to at least 180, or lower cookie_max_age." in message


@pytest.mark.parametrize(
    "options",
    [{"retention_days": "180"}, {"retention_days": "1", "cookie_max_age": "86400"}],
)
def test_ckan_starts_when_records_live_as_long_as_the_choices(
    ckan_config: Any, options: dict[str, str]
) -> None:
    try:
        _restart(ckan_config, **options)
        assert p.plugin_loaded("cookieconsent")
    finally:
        p.unload_all()


def test_the_ckan_command_refuses_to_start_with_a_short_retention(tmp_path: Path) -> None:
    """As an admin meets it: `ckan -c ckan.ini ...` with retention_days below cookie_max_age."""
    ini = tmp_path / "ckan.ini"
    settings = (ROOT / "test.ini").read_text()
    option = "ckanext.cookieconsent.retention_days = 30"
    ini.write_text(settings.replace("[app:main]\n", f"[app:main]\n{option}\n", 1))
    ckan = Path(sys.executable).with_name("ckan")
    result = subprocess.run(
        [str(ckan), "-c", str(ini), "cookieconsent", "stats"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ckanext.cookieconsent.retention_days = 30 would delete consent records" in (
        result.stderr
    )
    assert "ckanext.cookieconsent.cookie_max_age = 15552000" in result.stderr
