"""ckanext-googleanalytics' server-side events (API calls) follow the visitor's choice.

The real extension, with its real event code; only its outbound queue is replaced by one
of ours without the threads that post to Google, so that the test counts what would have
been posted.
"""

from __future__ import annotations

import queue
from typing import Any

import pytest
from ckan.tests import factories
from helpers import choose

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent googleanalytics"),
    pytest.mark.ckan_config("googleanalytics.id", "UA-1234567-1"),
    pytest.mark.usefixtures("with_plugins", "clean_db"),
]
API = "/api/3/action/status_show"


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> queue.Queue[Any]:
    from ckanext.googleanalytics.plugin import GoogleAnalyticsPlugin

    sink: queue.Queue[Any] = queue.Queue()
    monkeypatch.setattr(GoogleAnalyticsPlugin, "analytics_queue", sink)
    return sink


def test_an_api_call_without_a_choice_sends_nothing(app: Any, posted: queue.Queue[Any]) -> None:
    app.test_client().get(API)
    assert posted.qsize() == 0


def test_an_api_call_after_accept_all_is_sent(app: Any, posted: queue.Queue[Any]) -> None:
    client = app.test_client()
    choose(client, "accept_all")
    client.get(API)
    assert posted.qsize() == 1


def test_an_api_call_after_reject_all_sends_nothing(app: Any, posted: queue.Queue[Any]) -> None:
    client = app.test_client()
    choose(client, "refuse_all")
    client.get(API)
    assert posted.qsize() == 0


@pytest.mark.ckan_config("ckanext.cookieconsent.gate_googleanalytics", False)
def test_with_gating_off_events_are_sent_as_before(app: Any, posted: queue.Queue[Any]) -> None:
    app.test_client().get(API)
    assert posted.qsize() == 1


@pytest.mark.parametrize(("option", "sent"), [(False, 0), (True, 1)])
def test_api_token_requests_follow_the_option(
    app: Any, posted: queue.Queue[Any], ckan_config: Any, monkeypatch: pytest.MonkeyPatch,
    option: bool, sent: int,
) -> None:  # fmt: skip
    monkeypatch.setitem(
        ckan_config, "ckanext.cookieconsent.googleanalytics_api_token_events", option
    )
    user = factories.User()
    token = factories.APIToken(user=user["name"])["token"]
    app.test_client().get(API, headers={"Authorization": token})
    assert posted.qsize() == sent
