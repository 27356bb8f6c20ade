"""Passive drift detection: cookies the portal sets, or browsers send, that the catalogue
does not declare.

A theme, a new extension or a CKAN upgrade adds a cookie and nobody updates the catalogue:
the policy page then lies. Every response CKAN's Flask app produces is watched for the
names (never the values) in its Set-Cookie headers and in the request's Cookie header.
A name no catalogue entry matches is logged once per process and stored, with when it was
first and last seen, for the dashboard and `ckan cookieconsent check`.

Bounded in cost and size:
- a known name costs one dict lookup per request (memo per revision);
- an undeclared name is written at most once an hour per process (last seen is kept to
  the hour), in its own short transaction that never fails the request;
- the table keeps at most ROWS_PER_SOURCE names per source. Names sent by browsers are
  attacker-controlled: they have their own quota, so a flood of forged names cannot hide
  a cookie the portal itself sets. Only RFC 6265 token names of at most 128 characters
  count; at most 50 names of one Cookie header are read.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

import sqlalchemy as sa
import sqlalchemy.exc
from ckan import model

from ckanext.cookieconsent import catalogue

log = logging.getLogger(__name__)

Source = Literal["response", "request"]  # set by the portal / sent by browsers
ROWS_PER_SOURCE = 200
WRITE_EVERY_SECONDS = 3600
_NAMES_PER_HEADER = 50
_MEMO_SIZE = 2048
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
# An expired Set-Cookie deletes a cookie: the portal is not setting it.
_DELETION = re.compile(r";\s*(max-age=0\b|expires=[^;]*\b1970\b)", re.IGNORECASE)

_UPSERT = sa.text(
    """
    INSERT INTO cookieconsent_undeclared (name, source, first_seen, last_seen)
    SELECT :name, :source, now(), now()
    WHERE EXISTS (SELECT 1 FROM cookieconsent_undeclared WHERE name = :name AND source = :source)
       OR (SELECT count(*) FROM cookieconsent_undeclared WHERE source = :source) < :quota
    ON CONFLICT (name, source) DO UPDATE SET last_seen = EXCLUDED.last_seen
    """
)

# Per process. `_declared` memoises "is this name declared" for one revision.
_memo_revision: str | None = None
_declared: dict[str, bool] = {}
_written: dict[tuple[str, Source], float] = {}


def middleware(app: Any) -> Any:
    """`app` with its responses watched. A Flask app keeps its identity (plugins after us
    call its methods): its `wsgi_app` is wrapped, so every header Flask writes is seen,
    its session cookie included. Another WSGI callable is wrapped as a whole."""
    if hasattr(app, "wsgi_app"):
        app.wsgi_app = _Watched(app.wsgi_app)
        return app
    return _Watched(app)


class _Watched:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sent = environ.get("HTTP_COOKIE", "")

        def watching(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            try:
                observe(sent, (v for k, v in headers if k.lower() == "set-cookie"))
            except Exception:  # watching must never fail a response
                log.exception("Cookie drift detection failed on one response")
            return start_response(status, headers, exc_info)

        return self.app(environ, watching)


def observe(cookie_header: str, set_cookies: Iterable[str]) -> None:
    """Note the undeclared names of one request's Cookie header and its response's
    Set-Cookie headers."""
    portal = catalogue.current()
    for header in set_cookies:
        if not _DELETION.search(header):
            _note(portal, header.split("=", 1)[0].strip(), "response")
    if cookie_header:
        for part in cookie_header.split(";", _NAMES_PER_HEADER)[:_NAMES_PER_HEADER]:
            _note(portal, part.split("=", 1)[0].strip(), "request")


def _note(portal: catalogue.Catalogue, name: str, source: Source) -> None:
    if _is_declared(portal, name):
        return
    now = time.monotonic()
    key = (name, source)
    last = _written.get(key)
    if last is not None and now - last < WRITE_EVERY_SECONDS:
        return
    if last is None:
        if len(_written) >= _MEMO_SIZE:
            return  # the table's quotas are full long before this
        log.warning(
            "Cookie %r is %s but not declared in the cookie catalogue",
            name,
            "set by the portal" if source == "response" else "sent by browsers",
        )
    _written[key] = now
    _store(name, source)


def _is_declared(portal: catalogue.Catalogue, name: str) -> bool:
    """True also for a name that is no cookie name: nothing to report."""
    global _memo_revision
    if _memo_revision != portal.revision:
        _declared.clear()
        _written.clear()  # a name declared now, undeclared again later, is new again
        _memo_revision = portal.revision
    known = _declared.get(name)
    if known is None:
        known = not _TOKEN.fullmatch(name) or portal.declares(name)
        if len(_declared) < _MEMO_SIZE:
            _declared[name] = known
    return known


def _store(name: str, source: Source) -> None:
    """One short transaction on its own connection: CKAN's session is left alone, and a
    locked or missing table costs this response a log line, after at most 200 ms waiting
    for the lock (and 200 ms for the statement)."""
    try:
        with _engine().begin() as connection:
            connection.execute(
                sa.text(
                    "SELECT set_config('lock_timeout', '200ms', true),"
                    " set_config('statement_timeout', '200ms', true)"
                )
            )
            connection.execute(_UPSERT, {"name": name, "source": source, "quota": ROWS_PER_SOURCE})
    except sqlalchemy.exc.SQLAlchemyError:
        log.exception("Could not store the undeclared cookie name %r", name)


def undeclared(portal: catalogue.Catalogue) -> list[dict[str, Any]]:
    """The names seen and not declared by `portal`, most recently seen first.

    A name the catalogue has since declared is left out: declaring it is the fix."""
    with _engine().connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT name, source, first_seen, last_seen FROM cookieconsent_undeclared"
                " ORDER BY last_seen DESC, name, source"
            )
        ).all()
    return [
        {
            "name": name,
            "source": source,
            "first_seen": _iso(first_seen),
            "last_seen": _iso(last_seen),
        }
        for name, source, first_seen, last_seen in rows
        if not portal.declares(name)
    ]


def forget() -> None:
    """Empty the per-process memo (the catalogue or the database changed)."""
    global _memo_revision
    _memo_revision = None
    _declared.clear()
    _written.clear()


def _engine() -> sa.engine.Engine:
    engine = model.meta.engine
    assert engine is not None  # bound when CKAN's environment loads
    return engine


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat()
