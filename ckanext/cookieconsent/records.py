"""Proof of consent (GDPR art. 7(1)): one record per choice, each policy revision stored once.

Records are pseudonymous: the consent id of the preferences cookie, never an IP address, a
user agent or a user name. Writing a record must never cost the visitor their choice: a
failure is logged and reported as False, the cookie is set all the same.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from ckan import model
from sqlalchemy.dialects.postgresql import insert

from ckanext.cookieconsent import catalogue, consent
from ckanext.cookieconsent.model import ConsentRecord, PolicyRevision

log = logging.getLogger(__name__)

METHODS = ("banner", "policy", "embed", "withdrawal", "gpc")
CSV_COLUMNS = ("created", "consent_id", "revision", "method", "language", "choices")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def snapshot(current: catalogue.Catalogue) -> dict[str, Any]:
    """The catalogue as visitors were shown it, every language included."""

    def text(value: catalogue.Text) -> dict[str, str]:
        return dict(value)

    return {
        "revision": current.revision,
        "categories": [
            {"id": c.id, "title": text(c.title), "description": text(c.description),
             "required": c.required, "exempt": c.exempt}
            for c in current.visible_categories
        ],
        "cookies": [
            {"name": k.name, "category": k.category, "provider": text(k.provider),
             "service": text(k.service), "location": k.location, "purpose": text(k.purpose),
             "duration": {"seconds": k.duration.seconds, "text": text(k.duration.text)},
             "party": k.party, "domain": k.domain, "path": k.path}
            for k in current.cookies
        ],
    }  # fmt: skip


# Revisions this process knows are stored: most choices then cost one INSERT, not two
# (the catalogue is several KB of JSON). Forgotten on any failure, then written again.
_stored_revisions: set[str] = set()


def write(choice: consent.Choice, current: catalogue.Catalogue, method: str, language: str) -> bool:
    """Store one record of `choice` (and its revision if new). False if it failed."""
    for attempt in (1, 2):
        try:
            _insert(choice, current, method, language)
            return True
        except Exception:
            model.Session.rollback()
            # The database may have lost a revision we thought stored (restored, reset):
            # try once more, storing it again.
            if attempt == 1 and current.revision in _stored_revisions:
                _stored_revisions.discard(current.revision)
                continue
            # Whatever the database did, the visitor keeps their choice (the cookie is set).
            log.exception("Could not record a cookie choice (consent id %s)", choice.consent_id)
    return False


def _insert(
    choice: consent.Choice, current: catalogue.Catalogue, method: str, language: str
) -> None:
    session = model.Session
    if current.revision not in _stored_revisions:
        session.execute(
            insert(PolicyRevision.__table__)
            .values(revision=current.revision, created=now(), catalogue=snapshot(current))
            .on_conflict_do_nothing(index_elements=["revision"])
        )
    session.add(
        ConsentRecord(
            consent_id=choice.consent_id,
            revision=current.revision,
            choices={c.id: choice.allows(c.id) for c in current.visible_categories},
            created=now(),
            method=method,
            language=language[:16],
        )
    )
    session.commit()
    _stored_revisions.add(current.revision)


def history(consent_id: str) -> list[dict[str, Any]]:
    """Every record of one consent id, oldest first, each with the catalogue it answered."""
    rows = (
        model.Session.query(ConsentRecord, PolicyRevision)
        .join(PolicyRevision, PolicyRevision.revision == ConsentRecord.revision)
        .filter(ConsentRecord.consent_id == consent_id)
        .order_by(ConsentRecord.created, ConsentRecord.id)
        .all()
    )
    return [{**record.as_dict(), "policy": revision.catalogue} for record, revision in rows]


def _between(query: Any, since: datetime.datetime | None, until: datetime.datetime | None) -> Any:
    if since is not None:
        query = query.filter(ConsentRecord.created >= since)
    if until is not None:
        query = query.filter(ConsentRecord.created < until)
    return query


def stats(
    since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> dict[str, Any]:
    """How visitors answer: totals, per revision, per category and per day."""
    records = _between(model.Session.query(ConsentRecord), since, until).all()
    # Required categories are always on: they say nothing about the visitor's answer.
    required = {c.id for c in catalogue.current().categories if c.required}
    per_revision: dict[str, dict[str, Any]] = {}
    per_category: dict[str, dict[str, int]] = {}
    per_day: dict[str, dict[str, dict[str, int]]] = {}
    for record in records:
        optional = {k: v for k, v in record.choices.items() if k not in required}
        revision = per_revision.setdefault(
            record.revision, {"records": 0, "accepted_all": 0, "refused_all": 0}
        )
        revision["records"] += 1
        revision["accepted_all"] += bool(optional) and all(optional.values())
        revision["refused_all"] += not any(optional.values())
        day = per_day.setdefault(record.created.date().isoformat(), {})
        for category, allowed in optional.items():
            counts = per_category.setdefault(category, {"allowed": 0, "refused": 0})
            counts["allowed" if allowed else "refused"] += 1
            day_counts = day.setdefault(category, {"allowed": 0, "refused": 0})
            day_counts["allowed" if allowed else "refused"] += 1
    for revision in per_revision.values():
        revision["acceptance_rate"] = round(revision["accepted_all"] / revision["records"], 4)
    return {
        "total": len(records),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "revisions": per_revision,
        "categories": per_category,
        "days": dict(sorted(per_day.items())),
    }


def export_csv(since: datetime.datetime | None, until: datetime.datetime | None) -> Iterator[str]:
    """The records of a period as CSV lines (choices as category=1/0, space-separated)."""
    query = _between(model.Session.query(ConsentRecord), since, until).order_by(
        ConsentRecord.created, ConsentRecord.id
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for record in query.yield_per(1000):
        writer.writerow([
            record.created.isoformat(), record.consent_id, record.revision, record.method,
            record.language,
            " ".join(f"{k}={int(v)}" for k, v in sorted(record.choices.items())),
        ])  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def parse_day(value: str, *, end: bool = False) -> datetime.datetime:
    """`YYYY-MM-DD` as the start of that day in UTC, or with `end` the start of the next
    day, so that a range from one day to another includes both days whole."""
    day = datetime.date.fromisoformat(value)
    if end:
        day += datetime.timedelta(days=1)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


def purge(older_than: datetime.datetime) -> int:
    """Delete the records made before `older_than`; the number deleted. Safe to repeat."""
    result: Any = model.Session.execute(
        sa.delete(ConsentRecord.__table__).where(ConsentRecord.created < older_than)
    )
    deleted = result.rowcount
    model.Session.commit()
    return deleted or 0
