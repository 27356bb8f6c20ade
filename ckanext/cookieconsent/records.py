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
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from ckan import model
from sqlalchemy.dialects.postgresql import insert

from ckanext.cookieconsent import catalogue, config, consent
from ckanext.cookieconsent.model import ConsentRecord, PolicyRevision

log = logging.getLogger(__name__)

CSV_COLUMNS = ("created", "consent_id", "revision", "method", "language", "choices")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# Revisions this process knows are stored: most choices then cost one INSERT, not two
# (the catalogue is several KB of JSON). Forgotten on any failure, then written again.
_stored_revisions: set[str] = set()


def write(
    choice: consent.Choice, current: catalogue.Catalogue, method: consent.Method, language: str
) -> bool:
    """Store one record of `choice` (and its revision if new), made by `method` (one of
    consent.METHODS). False if it failed.

    The write waits at most `ckanext.cookieconsent.record_timeout_ms` for a lock or a
    statement (a locked or overloaded table): past that it fails, is logged, and the visitor
    gets their page and cookie all the same, without waiting any longer.
    """
    for attempt in (1, 2):
        try:
            _insert(choice, current, method, language)
            return True
        except sqlalchemy.exc.IntegrityError:
            model.Session.rollback()
            # The database may have lost a revision we thought stored (restored, reset):
            # try once more, storing it again.
            if attempt == 1 and current.revision in _stored_revisions:
                _stored_revisions.discard(current.revision)
                continue
            log.exception("Could not record a cookie choice (consent id %s)", choice.consent_id)
        except Exception:
            # A timeout, a lost connection, a missing table: never retried, so that the
            # visitor waits one timeout at most. They keep their choice (the cookie is set).
            model.Session.rollback()
            log.exception("Could not record a cookie choice (consent id %s)", choice.consent_id)
            break
    return False


def _insert(
    choice: consent.Choice, current: catalogue.Catalogue, method: consent.Method, language: str
) -> None:
    session = model.Session
    # Local to this transaction: CKAN's other queries keep the server's settings.
    timeout = f"{config.record_timeout_ms()}ms"
    session.execute(
        sa.text(
            "SELECT set_config('lock_timeout', :timeout, true),"
            " set_config('statement_timeout', :timeout, true)"
        ),
        {"timeout": timeout},
    )
    if current.revision not in _stored_revisions:
        session.execute(
            insert(PolicyRevision.__table__)
            .values(revision=current.revision, created=now(), catalogue=catalogue.snapshot(current))
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
    """`query` (an ORM query or a Core select) limited to records made in [since, until)."""
    created = ConsentRecord.__table__.c.created
    if since is not None:
        query = query.where(created >= since)
    if until is not None:
        query = query.where(created < until)
    return query


def stats(
    since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> dict[str, Any]:
    """How visitors answer: totals, per revision, per category and per day."""
    records = _between(model.Session.query(ConsentRecord), since, until).all()
    # Required categories are always on: they say nothing about the visitor's answer.
    required = catalogue.current().required_category_ids
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
    """The records of a period as CSV lines (choices as category=1/0, space-separated).

    The first chunk (the header and the first record) runs the query, so a caller that
    takes it before sending headers turns a failing query into an ordinary error. Should
    reading fail later, the last line is `# export failed: ...`, the failure is logged and
    raised again: the file is visibly incomplete, and a web server ends the transfer
    abnormally (the client sees a truncated response, not a complete one).

    Reads on a connection of its own, with a server-side cursor, so that it may go on
    after the request's session is closed (CKAN closes it before a response is streamed).
    """
    columns = ConsentRecord.__table__.c
    query = _between(
        sa.select(
            columns.created, columns.consent_id, columns.revision, columns.method,
            columns.language, columns.choices,
        ),
        since,
        until,
    ).order_by(columns.created, columns.id)  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    written = 0
    engine = model.meta.engine
    assert engine is not None  # bound when CKAN's environment loads
    with engine.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=1000).execute(query)
        try:
            for row in rows:
                writer.writerow([
                    row.created.isoformat(), row.consent_id, row.revision, row.method,
                    row.language,
                    " ".join(f"{k}={int(v)}" for k, v in sorted(row.choices.items())),
                ])  # fmt: skip
                written += 1
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        except Exception as error:
            if not written:
                raise  # nothing sent yet: the caller reports it as it reports any error
            # One line: the server logs the traceback of the error raised again below.
            log.error("The consent records export failed after %d record(s): %r", written, error)
            yield (
                f"# export failed after {written} record(s): {type(error).__name__};"
                " see the server log\n"
            )
            raise
    yield buffer.getvalue()


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_END_OF_TIME = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


def parse_day(value: str, *, end: bool = False) -> datetime.datetime:
    """`YYYY-MM-DD` as the start of that day in UTC, or with `end` the start of the next
    day, so that a range from one day to another includes both days whole.

    Exactly ten ASCII characters: no other ISO forms (`20261101`, `2026-W44-7`), no
    surrounding spaces or newline. ValueError otherwise. The end of the last day there is,
    9999-12-31, has no next day: it is its last microsecond, which is as good as no end
    (no record is ever made then).
    """
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(f"expected a date as YYYY-MM-DD, not {value!r}")
    day = datetime.date.fromisoformat(value)
    if end:
        if day == datetime.date.max:
            return _END_OF_TIME
        day += datetime.timedelta(days=1)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


PURGE_BATCH = 10_000


def count_before(older_than: datetime.datetime) -> int:
    """How many records were made before `older_than` (what purge would delete)."""
    query = sa.select(sa.func.count()).where(ConsentRecord.__table__.c.created < older_than)
    return model.Session.execute(query).scalar() or 0


def purge(older_than: datetime.datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the records made before `older_than`; the number deleted. Safe to repeat.

    In transactions of at most `batch` rows, so that a first purge of a large table does
    not hold its locks (and the visitors' choices) for the whole deletion."""
    table = ConsentRecord.__table__
    oldest = sa.select(table.c.id).where(table.c.created < older_than).limit(batch)
    deleted = 0
    while True:
        result: Any = model.Session.execute(
            sa.delete(table).where(table.c.id.in_(oldest.scalar_subquery()))
        )
        model.Session.commit()
        deleted += result.rowcount or 0
        if (result.rowcount or 0) < batch:
            return deleted
