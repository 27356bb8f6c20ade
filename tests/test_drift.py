"""Drift detection: the cookies the portal sets, or browsers send, that the catalogue does
not declare are noted (names only), bounded, shown to sysadmins and reported by the CLI.

Real CKAN (its Flask app, with a route of the test's own that sets a cookie, as a theme or
an extension would) and real PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import factories
from flask import Response
from helpers import EXAMPLE, PLUGIN_MARKS, choose
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ckanext.cookieconsent import drift

pytestmark = [*PLUGIN_MARKS, pytest.mark.usefixtures("no_names_seen")]


@pytest.fixture
def no_names_seen() -> Any:
    """Nothing seen yet, in the table or in this process's memo."""
    with model.meta.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM cookieconsent_undeclared"))
    drift.forget()
    yield
    drift.forget()


def _with_route(app: Any, header: str) -> None:
    """A page of the portal's (a theme's or another extension's) that sets `header`."""

    def page() -> Response:
        response = Response("ok")
        response.headers.add("Set-Cookie", header)
        return response

    app.flask_app.add_url_rule("/drift-test", "drift_test", page)


def _get(app: Any, path: str, cookie: str | None = None) -> int:
    """A GET through CKAN's app with the Cookie header exactly as given (the test client
    would rebuild it from its jar); the response status."""
    headers = {"Cookie": cookie} if cookie is not None else {}
    environ = EnvironBuilder(path=path, headers=headers).get_environ()
    app_iter, status, _ = run_wsgi_app(app.app, environ)  # the whole stack, as served
    b"".join(app_iter)
    return int(status.split()[0])


def _seen() -> list[dict[str, Any]]:
    return tk.get_action("cookieconsent_undeclared_cookie_list")({"ignore_auth": True}, {})


def _rows() -> list[tuple[Any, ...]]:
    with model.meta.engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT * FROM cookieconsent_undeclared")).all())


def test_a_cookie_the_portal_sets_undeclared_is_noted_by_name_only(app: Any) -> None:
    _with_route(app, "theme_pref=dark-blue-secret; Path=/; Max-Age=3600")
    assert app.get("/drift-test").status_code == 200
    seen = _seen()
    assert [(c["name"], c["source"]) for c in seen] == [("theme_pref", "response")]
    assert seen[0]["first_seen"] == seen[0]["last_seen"]
    assert "dark-blue-secret" not in repr(_rows())


def test_a_cookie_browsers_send_undeclared_is_noted(app: Any) -> None:
    _get(app, "/about", "cms_session=abc123; ckan=x")
    assert [(c["name"], c["source"]) for c in _seen()] == [("cms_session", "request")]


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_declared_cookies_and_patterns_are_not_noted(app: Any) -> None:
    client = app.test_client()
    choose(client, "accept_all")  # sets the preferences cookie, and CKAN's session
    _get(app, "/about", "ckan=x; _pk_id.1.abcd=y; _pk_ses.1.abcd=z; remember_token=r")
    assert _seen() == []


def test_a_deletion_is_not_setting_a_cookie(app: Any) -> None:
    _with_route(app, "old_tracker=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
    app.get("/drift-test")
    assert _seen() == []


@pytest.mark.parametrize(
    "header",
    [
        "bad name=1",  # not an RFC 6265 token: no cookie a browser would keep
        "caf\u00e9=1",
        "x" * 129 + "=1",
        "=novalue",
        "a,b=1",
    ],
)
def test_names_that_are_no_cookie_names_are_ignored(app: Any, header: str) -> None:
    _get(app, "/about", header)
    assert _seen() == []


def test_a_header_with_many_names_is_read_up_to_fifty(app: Any) -> None:
    names = "; ".join(f"forged{i}=1" for i in range(1000))
    assert _get(app, "/about", names) == 200
    assert len(_seen()) == 50


def test_forged_names_cannot_crowd_out_what_the_portal_sets(app: Any) -> None:
    _with_route(app, "theme_pref=1; Path=/")
    for batch in range(6):  # 300 distinct names sent by "browsers"
        names = "; ".join(f"forged{batch}_{i}=1" for i in range(50))
        _get(app, "/about", names)
    app.get("/drift-test")
    sources = [c["source"] for c in _seen()]
    assert sources.count("request") == drift.ROWS_PER_SOURCE
    assert sources.count("response") == 1


def test_a_name_seen_again_within_the_hour_is_not_written_again(app: Any) -> None:
    _get(app, "/about", "cms_session=1")
    with model.meta.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE cookieconsent_undeclared SET last_seen = last_seen - interval '1 day'")
        )
    before = _seen()[0]["last_seen"]
    _get(app, "/about", "cms_session=2")
    assert _seen()[0]["last_seen"] == before


def test_each_name_is_logged_once_per_process(app: Any, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="ckanext.cookieconsent.drift"):
        for _ in range(3):
            _get(app, "/about", "cms_session=1")
    warnings = [r.getMessage() for r in caplog.records if r.name == "ckanext.cookieconsent.drift"]
    assert warnings == [
        "Cookie 'cms_session' is sent by browsers but not declared in the cookie catalogue"
    ]


def test_a_name_the_catalogue_declares_since_is_no_longer_listed(app: Any) -> None:
    _get(app, "/about", "_pk_id.1.abcd=1")
    assert [c["name"] for c in _seen()] == ["_pk_id.1.abcd"]
    # The example catalogue declares _pk_id.*: the same rows, read against it.
    from ckanext.cookieconsent import catalogue, config

    example = catalogue.load(EXAMPLE, config.builtin_catalogue_values())
    assert drift.undeclared(example) == []


def test_a_locked_table_never_fails_the_page(app: Any, caplog: Any) -> None:
    """Another transaction holds the table: the write gives up after its lock timeout."""
    with model.meta.engine.connect() as locker:
        transaction = locker.begin()
        locker.execute(sa.text("LOCK TABLE cookieconsent_undeclared IN ACCESS EXCLUSIVE MODE"))
        try:
            with caplog.at_level(logging.ERROR, logger="ckanext.cookieconsent.drift"):
                status = _get(app, "/about", "cms_session=1")
        finally:
            transaction.rollback()
    assert status == 200
    assert any("Could not store" in r.getMessage() for r in caplog.records)


@pytest.mark.ckan_config("ckanext.cookieconsent.detect_undeclared", "false")
def test_switched_off_nothing_is_noted(app: Any) -> None:
    _get(app, "/about", "cms_session=1")
    assert _seen() == []


def test_the_dashboard_lists_what_was_seen(app: Any) -> None:
    headers = {"Authorization": factories.SysadminWithToken()["token"]}
    page = app.get("/ckan-admin/cookies", headers=headers)
    assert "Every cookie seen so far is declared in the cookie catalogue." in page.body
    _get(app, "/about", "cms_session=1")
    page = app.get("/ckan-admin/cookies", headers=headers)
    assert "<code>cms_session</code>" in page.body
    assert "Sent by browsers" in page.body


def test_only_sysadmins_read_the_list(app: Any) -> None:
    response = app.post(
        "/api/3/action/cookieconsent_undeclared_cookie_list",
        json={},
        headers={"Authorization": factories.UserWithToken()["token"]},
    )
    assert response.status_code == 403
