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
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.exc
from ckan import model
from sqlalchemy.dialects.postgresql import insert

from ckanext.cookieconsent import catalogue, config, consent
from ckanext.cookieconsent.model import ConsentRecord, DailyCount, PolicyRevision, ShownTexts

if TYPE_CHECKING:  # proof.py renders the texts shown; records store them
    from ckanext.cookieconsent.proof import Texts

log = logging.getLogger(__name__)

# Rows per chunk of the CSV export: ~100 KB, a few MB of memory at most.
EXPORT_CHUNK_ROWS = 1000

CSV_COLUMNS = ("created", "consent_id", "revision", "method", "language", "choices")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# Revisions this process knows are stored: most choices then cost one INSERT, not two
# (the catalogue is several KB of JSON). Forgotten on any failure, then written again.
_stored_revisions: set[str] = set()
# Likewise the texts shown (proof.py): their row's id, by their SHA-256.
_stored_texts: dict[str, int] = {}


def write(
    choice: consent.Choice,
    current: catalogue.Catalogue,
    method: consent.Method,
    language: str,
    texts: Texts | None = None,
) -> bool:
    """Store one record of `choice` (and its revision if new), made by `method` (one of
    consent.METHODS). False if it failed.

    The write waits at most `ckanext.cookieconsent.record_timeout_ms` for a lock or a
    statement (a locked or overloaded table): past that it fails, is logged, and the visitor
    gets their page and cookie all the same, without waiting any longer.

    `texts`: what the visitor was shown of the catalogue in force (proof.texts_shown),
    stored with the first record that links to them. A choice answering another stored
    revision links to the texts another server stored for it in that language, if any.
    """
    for attempt in (1, 2):
        try:
            _insert(choice, current, method, language, texts)
            return True
        except sqlalchemy.exc.IntegrityError:
            model.Session.rollback()
            # The database may have lost a revision or texts we thought stored (restored,
            # reset, texts purged meanwhile): try once more, storing them again.
            lost_texts = texts is not None and texts.sha256 in _stored_texts
            if attempt == 1 and (current.revision in _stored_revisions or lost_texts):
                _stored_revisions.discard(current.revision)
                _stored_texts.pop(texts.sha256 if texts is not None else "", None)
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
    choice: consent.Choice,
    current: catalogue.Catalogue,
    method: consent.Method,
    language: str,
    texts: Texts | None,
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
    # A choice answers the catalogue in force, or (a banner shown by a server on another
    # revision, during an update) a revision that is stored already: its policy was read.
    answered = current.policy if choice.revision == current.revision else policy_of(choice.revision)
    if answered is None:
        raise LookupError(f"revision {choice.revision} is not stored")
    in_force = choice.revision == current.revision
    if in_force and current.revision not in _stored_revisions:
        session.execute(_revision_insert(current))
    texts_id: int | None = None
    if in_force and texts is not None and texts.revision == current.revision:
        texts_id = _stored_texts.get(texts.sha256)
        if texts_id is None:
            session.execute(_texts_insert(texts))
            texts_id = session.execute(
                sa.select(ShownTexts.__table__.c.id).where(
                    ShownTexts.__table__.c.sha256 == texts.sha256
                )
            ).scalar_one()
    elif not in_force:
        texts_id = _texts_stored_for(answered.revision, language)
    session.add(
        ConsentRecord(
            consent_id=choice.consent_id,
            revision=answered.revision,
            choices={c: choice.allows(c) for c in answered.categories},
            created=now(),
            method=method,
            language=language[:16],
            texts_id=texts_id,
        )
    )
    session.commit()
    if in_force:
        _stored_revisions.add(current.revision)
    if texts is not None and texts_id is not None and in_force:
        _stored_texts[texts.sha256] = texts_id


def _texts_insert(texts: Texts) -> Any:
    """Store the texts shown (proof.Texts), unless stored already by any process or server."""
    return (
        insert(ShownTexts.__table__)
        .values(
            sha256=texts.sha256,
            revision=texts.revision,
            language=texts.language,
            created=now(),
            banner=texts.banner,
            policy=texts.policy,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


def _texts_stored_for(revision: str, language: str) -> int | None:
    """The texts stored for `revision` in `language` (the latest), if any: their id."""
    table = ShownTexts.__table__
    query = (
        sa.select(table.c.id)
        .where(table.c.revision == revision, table.c.language == language[:16])
        .order_by(table.c.created.desc())
        .limit(1)
    )
    return model.Session.execute(query).scalar()


# The policies of stored revisions, by revision: a revision never changes once stored.
# Unknown ones are looked up again after a while (another server may store it soon).
_known_policies: dict[str, catalogue.Policy] = {}
_unknown_until: dict[str, float] = {}
UNKNOWN_REVISION_RETRY = 60.0  # seconds
_MAX_UNKNOWN = 1024


def policy_of(revision: str) -> catalogue.Policy | None:
    """The policy of `revision` (its categories and their terms), from its stored
    catalogue; None if it is not stored (or cannot be read now). Read from the database once per
    process: a visitor's cookie made under another revision (before an update, or by a
    server already updated) is then judged by what changed for them (consent.carry_over).

    The revision comes from a signed cookie: only this portal's servers can name one.
    """
    known = _known_policies.get(revision)
    if known is not None:
        return known
    if time.monotonic() < _unknown_until.get(revision, 0.0):
        return None
    try:
        stored = model.Session.execute(
            sa.select(PolicyRevision.__table__.c.catalogue).where(
                PolicyRevision.__table__.c.revision == revision
            )
        ).scalar()
        policy = catalogue.policy_of_snapshot(stored) if stored is not None else None
    except (sqlalchemy.exc.SQLAlchemyError, KeyError, TypeError):
        model.Session.rollback()
        log.exception("Could not read the stored catalogue of revision %s", revision)
        policy = None
    if policy is None:
        if len(_unknown_until) >= _MAX_UNKNOWN:
            _unknown_until.clear()
        _unknown_until[revision] = time.monotonic() + UNKNOWN_REVISION_RETRY
        return None
    _known_policies[revision] = policy
    return policy


def forget_revisions() -> None:
    """Forget what this process knows of stored revisions (a new configuration, perhaps
    another database): they are read again when needed."""
    global _retry_storing_at
    _stored_revisions.clear()
    _stored_texts.clear()
    _known_policies.clear()
    _unknown_until.clear()
    _retry_storing_at = 0.0


_retry_storing_at = 0.0


def ensure_revision_stored(current: catalogue.Catalogue) -> None:
    """Store the revision in force once per process, before any visitor answers it: a
    server on another revision (a rolling update) may receive the answer to this one's
    banner, and reads its policy from the database. A set lookup once stored; after a
    failure (tables not created yet), tried again a minute later, logged once."""
    global _retry_storing_at
    if current.revision in _stored_revisions or time.monotonic() < _retry_storing_at:
        return
    try:
        model.Session.execute(_revision_insert(current))
        model.Session.commit()
        _stored_revisions.add(current.revision)
    except sqlalchemy.exc.SQLAlchemyError as error:
        model.Session.rollback()
        if not _retry_storing_at:
            log.warning("Could not store the policy revision %s: %s", current.revision, error)
        _retry_storing_at = time.monotonic() + UNKNOWN_REVISION_RETRY


def store_revision(current: catalogue.Catalogue) -> None:
    """Store the catalogue in force as its revision's (once), without a record: so that
    choices made under it can be carried over by servers on another revision, with
    consent records switched off too. A failure is logged, never raised.

    Written at each choice (a no-op once stored): unlike records, nothing here would
    notice that the database lost it (a restore)."""
    try:
        model.Session.execute(_revision_insert(current))
        model.Session.commit()
    except sqlalchemy.exc.SQLAlchemyError:
        model.Session.rollback()
        log.exception("Could not store the policy revision %s", current.revision)


def _revision_insert(current: catalogue.Catalogue) -> Any:
    """Store `current`'s revision with its catalogue, unless it is stored already."""
    return (
        insert(PolicyRevision.__table__)
        .values(revision=current.revision, created=now(), catalogue=catalogue.snapshot(current))
        .on_conflict_do_nothing(index_elements=["revision"])
    )


def history(consent_id: str) -> list[dict[str, Any]]:
    """Every record of one consent id, oldest first, each with the catalogue it answered
    and the texts its visitor was shown (`texts`: sha256, language, banner, policy; None
    for records made before texts were kept)."""
    rows = (
        model.Session.query(ConsentRecord, PolicyRevision, ShownTexts)
        .join(PolicyRevision, PolicyRevision.revision == ConsentRecord.revision)
        .outerjoin(ShownTexts, ShownTexts.id == ConsentRecord.texts_id)
        .filter(ConsentRecord.consent_id == consent_id)
        .order_by(ConsentRecord.created, ConsentRecord.id)
        .all()
    )
    return [
        {
            **record.as_dict(),
            "policy": revision.catalogue,
            "texts_sha256": None if texts is None else texts.sha256,
            "texts": None
            if texts is None
            else {
                "sha256": texts.sha256,
                "language": texts.language,
                "banner": texts.banner,
                "policy": texts.policy,
            },
        }
        for record, revision, texts in rows
    ]


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
    """How visitors answer: totals, per revision, per category and per day (UTC).

    Counted from the daily counts the records table's triggers keep (cookieconsent_daily:
    one row per day, revision and set of answers, a few thousand rows for millions of
    records), summed here: memory and time grow with days and revisions, not records.
    The triggers count whatever writes records (a choice, a restore, a bulk import by
    SQL, a purge). A period that does not start and end at midnight UTC is counted from
    the records themselves, grouped the same way by PostgreSQL.
    """
    if _at_midnight(since) and _at_midnight(until):
        daily = DailyCount.__table__
        query: Any = sa.select(daily.c.revision, daily.c.day, daily.c.choices, daily.c.records)
        if since is not None:
            query = query.where(daily.c.day >= since.astimezone(datetime.timezone.utc).date())
        if until is not None:
            query = query.where(daily.c.day < until.astimezone(datetime.timezone.utc).date())
    else:
        table = ConsentRecord.__table__
        day = sa.cast(sa.func.timezone("UTC", table.c.created), sa.Date).label("day")
        query = _between(
            sa.select(table.c.revision, day, table.c.choices, sa.func.count().label("records")),
            since,
            until,
        ).group_by(table.c.revision, day, table.c.choices)
    groups = model.Session.execute(query)
    # Required categories are always on: they say nothing about the visitor's answer.
    required = catalogue.current().required_category_ids
    total = 0
    per_revision: dict[str, dict[str, Any]] = {}
    per_category: dict[str, dict[str, int]] = {}
    per_day: dict[str, dict[str, dict[str, int]]] = {}
    for revision_id, record_day, choices, records in groups:
        total += records
        optional = {k: v for k, v in choices.items() if k not in required}
        revision = per_revision.setdefault(
            revision_id, {"records": 0, "accepted_all": 0, "refused_all": 0}
        )
        revision["records"] += records
        revision["accepted_all"] += records if optional and all(optional.values()) else 0
        revision["refused_all"] += 0 if any(optional.values()) else records
        day_counts = per_day.setdefault(record_day.isoformat(), {})
        for category, allowed in optional.items():
            answer = "allowed" if allowed else "refused"
            counts = per_category.setdefault(category, {"allowed": 0, "refused": 0})
            counts[answer] += records
            in_day = day_counts.setdefault(category, {"allowed": 0, "refused": 0})
            in_day[answer] += records
    for revision in per_revision.values():
        revision["acceptance_rate"] = round(revision["accepted_all"] / revision["records"], 4)
    return {
        "total": total,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "revisions": per_revision,
        "categories": per_category,
        "days": dict(sorted(per_day.items())),
    }


def _at_midnight(moment: datetime.datetime | None) -> bool:
    """Whether `moment` is absent or the start of a day in UTC (as parse_day gives)."""
    if moment is None:
        return True
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.time() == datetime.time(0) and moment.tzinfo is not None


def rebuild_daily_counts() -> int:
    """Count the daily answers again from the records (after a restore that bypassed
    triggers, e.g. with `session_replication_role = replica`); the number of rows."""
    session = model.Session
    session.execute(sa.delete(DailyCount.__table__))
    table = ConsentRecord.__table__
    day = sa.cast(sa.func.timezone("UTC", table.c.created), sa.Date)
    grouped = sa.select(day, table.c.revision, table.c.choices, sa.func.count()).group_by(
        day, table.c.revision, table.c.choices
    )
    result: Any = session.execute(
        sa.insert(DailyCount.__table__).from_select(
            ["day", "revision", "choices", "records"], grouped
        )
    )
    session.commit()
    return result.rowcount or 0


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
                # The first record alone (it proves the query runs), then chunks: one
                # write per row would cost the server more than the rows themselves.
                if written == 1 or written % EXPORT_CHUNK_ROWS == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        except Exception as error:
            if not written:
                raise  # nothing sent yet: the caller reports it as it reports any error
            # One line: the server logs the traceback of the error raised again below.
            log.error("The consent records export failed after %d record(s): %r", written, error)
            yield buffer.getvalue() + (  # the records read so far, then the failure
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
    not hold its locks (and the visitors' choices) for the whole deletion. Then the texts
    shown (stored before `older_than`) that no record links to any more go too: texts live
    as long as a record links to them (the foreign key refuses deleting linked ones)."""
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
            break
    purge_unlinked_texts(older_than)
    return deleted


def purge_unlinked_texts(older_than: datetime.datetime) -> int:
    """Delete the texts shown stored before `older_than` that no record links to; how many.
    A record being written meanwhile that links to one fails its foreign key and is
    written again with the texts stored again (write's second attempt)."""
    texts = ShownTexts.__table__
    linked = (
        sa.select(ConsentRecord.__table__.c.id)
        .where(ConsentRecord.__table__.c.texts_id == texts.c.id)
        .exists()
    )
    result: Any = model.Session.execute(
        sa.delete(texts).where(texts.c.created < older_than, ~linked)
    )
    model.Session.commit()
    _stored_texts.clear()
    return result.rowcount or 0
