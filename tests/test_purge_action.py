"""The `cookieconsent_record_purge` action: sysadmins only, the CLI's safety rules (no
cut-off in the future or younger than cookie_max_age), a dry run that deletes nothing.
Through CKAN's API on the real PostgreSQL."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import factories
from helpers import PLUGIN_MARKS
from record_factories import consent_record, now

URL = "/api/3/action/cookieconsent_record_purge"

pytestmark = [*PLUGIN_MARKS, pytest.mark.usefixtures("consent_tables", "old_and_young")]


@pytest.fixture
def old_and_young() -> None:
    """One record 401 days old (past any allowed cut-off of 400 days), one 10 days old."""
    consent_record(now() - datetime.timedelta(days=401), consent_id="O" * 16)
    consent_record(now() - datetime.timedelta(days=10), consent_id="Y" * 16)


def _consent_ids() -> list[str]:
    model.Session.commit()
    query = sa.text("SELECT consent_id FROM cookieconsent_record ORDER BY created")
    return [row[0] for row in model.Session.execute(query)]


def _sysadmin() -> dict[str, str]:
    return {"Authorization": factories.SysadminWithToken()["token"]}


def test_anonymous_visitors_cannot_purge(app: Any) -> None:
    body = app.post(URL, json={"older_than": 400}, status=403).json
    assert body["error"]["message"] == "Access denied: Only sysadmins can delete consent records."
    assert _consent_ids() == ["O" * 16, "Y" * 16]


def test_ordinary_users_cannot_purge(app: Any) -> None:
    headers = {"Authorization": factories.UserWithToken()["token"]}
    body = app.post(URL, json={"older_than": 400}, headers=headers, status=403).json
    assert body["error"]["message"] == "Access denied: Only sysadmins can delete consent records."
    assert _consent_ids() == ["O" * 16, "Y" * 16]


def test_a_dry_run_counts_and_deletes_nothing(app: Any) -> None:
    body = app.post(URL, json={"older_than": 400, "dry_run": True}, headers=_sysadmin()).json
    result = body["result"]
    assert (result["dry_run"], result["records"]) == (True, 1)
    cut_off = datetime.datetime.fromisoformat(result["older_than"])
    assert abs(cut_off - (now() - datetime.timedelta(days=400))) < datetime.timedelta(minutes=5)
    assert _consent_ids() == ["O" * 16, "Y" * 16]


def test_a_sysadmin_purges_the_old_records_only(app: Any) -> None:
    body = app.post(URL, json={"older_than": "400"}, headers=_sysadmin()).json
    assert (body["result"]["dry_run"], body["result"]["records"]) == (False, 1)
    assert _consent_ids() == ["Y" * 16]


def test_a_date_is_a_cut_off_too(app: Any) -> None:
    day = (now() - datetime.timedelta(days=400)).date().isoformat()
    body = app.post(URL, json={"older_than": day}, headers=_sysadmin()).json
    assert body["result"]["older_than"] == f"{day}T00:00:00+00:00"
    assert _consent_ids() == ["Y" * 16]


def test_without_a_cut_off_the_retention_period_applies(app: Any) -> None:
    consent_record(now() - datetime.timedelta(days=761), consent_id="R" * 16)
    body = app.post(URL, json={}, headers=_sysadmin()).json
    assert body["result"]["records"] == 1  # 761 days: past retention_days (760); 401 is not
    assert _consent_ids() == ["O" * 16, "Y" * 16]


@pytest.mark.parametrize(
    ("older_than", "message"),
    [
        ("179", "179 would delete records younger than ckanext.cookieconsent.cookie_max_age"),
        (0, "0 would delete records younger than ckanext.cookieconsent.cookie_max_age"),
        ("9999-12-31", "9999-12-31 is in the future"),
        ("1.5", "expected a number of days or a date YYYY-MM-DD, not '1.5'."),
        (-5, "expected a number of days or a date YYYY-MM-DD, not -5."),
        (True, "expected a number of days or a date YYYY-MM-DD, not True."),
    ],
)
def test_unsafe_or_unreadable_cut_offs_are_refused_with_409(
    app: Any, older_than: Any, message: str
) -> None:
    body = app.post(URL, json={"older_than": older_than}, headers=_sysadmin(), status=409).json
    assert body["error"]["older_than"][0].startswith(message)
    assert _consent_ids() == ["O" * 16, "Y" * 16]


def test_unknown_parameters_are_refused(app: Any) -> None:
    body = app.post(URL, json={"days": 400}, headers=_sysadmin(), status=409).json
    assert body["error"]["days"] == ["Unknown parameter. Expected one of: dry_run, older_than."]
    assert _consent_ids() == ["O" * 16, "Y" * 16]
