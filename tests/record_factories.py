"""Rows of the extension's tables, written through its ORM classes (ckanext/cookieconsent/
model.py): a policy revision, and consent records answering it. Every field has a default
and can be overridden; the rows are committed, so the app (another session) sees them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from ckan import model

from ckanext.cookieconsent.model import ConsentRecord, PolicyRevision

UTC = datetime.timezone.utc
SEEDED = "seeded"
CONSENT_ID = "S" * 16


def now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def day_bounds(day: str) -> tuple[datetime.datetime, datetime.datetime]:
    """The first and the last second of `day` (YYYY-MM-DD), in UTC."""
    start = datetime.datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start, start + datetime.timedelta(hours=23, minutes=59, seconds=59)


def policy_revision(
    revision: str = SEEDED,
    *,
    created: datetime.datetime | None = None,
    catalogue: dict[str, Any] | None = None,
) -> PolicyRevision:
    """The revision row `revision`, written unless it is there already."""
    row = model.Session.get(PolicyRevision, revision)
    if row is None:
        row = PolicyRevision(revision=revision, created=created or now(), catalogue=catalogue or {})
        model.Session.add(row)
        model.Session.commit()
    return row


def consent_records(
    moments: Iterable[datetime.datetime],
    *,
    consent_id: str = CONSENT_ID,
    revision: str = SEEDED,
    choices: dict[str, bool] | None = None,
    method: str = "banner",
    language: str = "en",
) -> list[ConsentRecord]:
    """One record made at each of `moments`, answering `revision` (written if missing)."""
    policy_revision(revision)
    rows = [
        ConsentRecord(
            consent_id=consent_id,
            revision=revision,
            choices={"necessary": True} if choices is None else choices,
            created=moment,
            method=method,
            language=language,
        )
        for moment in moments
    ]
    model.Session.add_all(rows)
    model.Session.commit()
    return rows


def consent_record(created: datetime.datetime | None = None, **fields: Any) -> ConsentRecord:
    """One record, made now unless `created` says when; `fields` as `consent_records` has them."""
    (row,) = consent_records([created or now()], **fields)
    return row
