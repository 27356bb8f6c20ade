"""Several servers, one consent (issue 12, goal 5): two CKAN servers, each its own process,
on one PostgreSQL, with one SECRET_KEY, behind one nginx upstream (fixture `cluster` in
cluster_fixtures.py), driven by Debian's chromium.

Whichever server answers, a choice made through the other holds, refused cookies are
deleted, and each choice is counted once; during a rolling update (the two servers on
different catalogue revisions) a visitor is asked at most once more.

Every page's `X-Upstream` header says which server answered it: the tests check that
the pages they rely on came from the server they name, rather than assume it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from helpers import DEMO_CATALOGUE, PREFERENCES
from page_probes import BANNER, allowed
from playwright.sync_api import expect

if TYPE_CHECKING:
    from cluster_fixtures import Cluster
    from playwright.sync_api import Page, Response

pytestmark = [pytest.mark.browser]

# Catalogue X: the demo portal's (statistics and media, neither exempt: the banner shows).
CATALOGUE_X = DEMO_CATALOGUE
# Catalogue X+1: the same, with one more cookie in statistics.
NEW_STATISTICS_COOKIE = {
    "name": "demo_stats_session",
    "category": "statistics",
    "provider": "Demo statistics (hosted by the portal)",
    "service": {"en": "Audience measurement (visits)", "fr": "Mesure d'audience (visites)"},
    "location": "front",
    "party": "first",
    "purpose": {
        "en": "Tell one visit from the next.",
        "fr": "Distinguer une visite de la suivante.",
    },
    "duration": "30 minutes",
}
OPTIONAL = ("statistics", "media")
PAGES = ("/about", "/user/login")
ACCEPT_ALL = "#cookieconsent-banner-accept-all"
REJECT_ALL = "#cookieconsent-banner-reject-all"


def _other(name: str) -> str:
    return "B" if name == "A" else "A"


@pytest.fixture
def same_catalogue(cluster: Cluster) -> Cluster:
    """Both servers on catalogue X."""
    cluster.use_catalogues(A=CATALOGUE_X, B=CATALOGUE_X)
    return cluster


@pytest.fixture(scope="module")
def catalogue_x_plus_one(tmp_path_factory: pytest.TempPathFactory) -> str:
    demo = yaml.safe_load(Path(CATALOGUE_X).read_text(encoding="utf-8"))
    demo["cookies"].append(NEW_STATISTICS_COOKIE)
    path = tmp_path_factory.mktemp("catalogue") / "catalogue-x-plus-one.yaml"
    path.write_text(yaml.safe_dump(demo, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
def rolling_update(cluster: Cluster, catalogue_x_plus_one: str) -> Cluster:
    """Mid-update: A still on catalogue X, B already on X plus one statistics cookie."""
    cluster.use_catalogues(A=CATALOGUE_X, B=catalogue_x_plus_one)
    revisions = {name: cluster.api(name, "cookieconsent_policy_show")["revision"] for name in "AB"}
    assert revisions["A"] != revisions["B"], "the two catalogues have the same revision"
    return cluster


def _visit(cluster: Cluster, page: Page, path: str) -> str:
    """Load `path` through nginx; the server that answered."""
    response = page.goto(f"{cluster.url}{path}")
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    return cluster.server_of(response.headers)


def _choose(cluster: Cluster, page: Page, button: str, *, through: str) -> Response:
    """Click `button` of the banner with the POST sent to server `through`; the answer."""
    cluster.steer_next_page_to(through)
    with page.expect_response(lambda r: r.url.endswith("/cookies/consent")) as posted:
        page.locator(button).click()
    expect(page.locator(BANNER)).to_be_hidden()
    assert posted.value.ok, f"the choice was answered {posted.value.status}"
    assert cluster.server_of(posted.value.headers) == through
    return posted.value


def _preferences(page: Page) -> str:
    values = [c.get("value", "") for c in page.context.cookies() if c.get("name") == PREFERENCES]
    assert len(values) == 1, f"preferences cookies: {values}"
    return values[0]


def _shows_banner(page: Page) -> bool:
    """Whether the server rendered the banner (it does not once a choice holds)."""
    return page.locator(BANNER).count() > 0


# --- 1. A choice made through one server is honoured by the other ------------------------


@pytest.mark.parametrize("through", ["A", "B"])
def test_choice_through_one_server_is_honoured_by_the_other(
    same_catalogue: Cluster, new_page: Callable[..., Page], through: str
) -> None:
    cluster = same_catalogue
    page = new_page()
    _visit(cluster, page, "/about")
    expect(page.locator(BANNER)).to_be_visible()

    _choose(cluster, page, ACCEPT_ALL, through=through)

    served = []
    for path in PAGES:  # pages N+1 and N+2
        served.append(_visit(cluster, page, path))
        assert not _shows_banner(page), f"{path} from {served[-1]} shows the banner"
        assert all(allowed(page, c) for c in OPTIONAL), f"{path} from {served[-1]}"
    assert served == [_other(through), through], f"pages N+1, N+2 came from {served}"


# --- 2. Refused cookies are deleted whichever server answers -----------------------------


@pytest.mark.parametrize("through", ["A", "B"])
def test_refused_http_only_cookie_is_deleted_by_either_server(
    same_catalogue: Cluster, new_page: Callable[..., Page], through: str
) -> None:
    """An HttpOnly cookie of a refused category: the page's script cannot delete it, only
    the server's `Set-Cookie` in the answer to the choice can."""
    cluster = same_catalogue
    page = new_page()
    page.context.add_cookies(
        [{"name": "demo_stats_id", "value": "planted", "url": cluster.url, "httpOnly": True}]
    )
    _visit(cluster, page, "/about")

    answer = _choose(cluster, page, REJECT_ALL, through=through)

    deletions = [
        h["value"]
        for h in answer.headers_array()
        if h["name"].lower() == "set-cookie" and h["value"].startswith("demo_stats_id=")
    ]
    assert deletions, f"server {through} did not delete demo_stats_id"
    names = [c.get("name") for c in page.context.cookies()]
    assert "demo_stats_id" not in names
    for path in PAGES:  # and both servers then keep to the refusal
        server = _visit(cluster, page, path)
        assert not _shows_banner(page), f"{path} from {server} shows the banner"
        assert not any(allowed(page, c) for c in OPTIONAL), f"{path} from {server}"
        assert "demo_stats_id" not in [c.get("name") for c in page.context.cookies()]


# --- 3. Records from both servers are counted once ---------------------------------------


def _clear_records() -> None:
    """No record of earlier tests (revisions stay: the servers know them stored)."""
    import sqlalchemy as sa
    from ckan import model

    model.Session.execute(sa.text("DELETE FROM cookieconsent_record"))
    model.Session.commit()


def test_records_from_both_servers_are_counted_once(
    same_catalogue: Cluster, new_page: Callable[..., Page]
) -> None:
    cluster = same_catalogue
    _clear_records()
    choices = [("A", ACCEPT_ALL), ("B", ACCEPT_ALL), ("A", REJECT_ALL), ("B", ACCEPT_ALL)]
    consent_ids = set()
    for through, button in choices:  # one visitor each
        page = new_page()
        _visit(cluster, page, "/about")
        _choose(cluster, page, button, through=through)
        consent_ids.add(_preferences(page).split(":")[3])
    assert len(consent_ids) == len(choices)
    revision = cluster.api("A", "cookieconsent_policy_show")["revision"]

    for name in "AB":  # either server's API tells the same
        stats = cluster.api(name, "cookieconsent_stats")
        assert stats["total"] == len(choices), f"server {name}: {stats}"
        assert list(stats["revisions"]) == [revision], f"server {name}: {stats}"
        counts = stats["revisions"][revision]
        assert (counts["records"], counts["accepted_all"], counts["refused_all"]) == (4, 3, 1)
        assert stats["categories"]["statistics"] == {"allowed": 3, "refused": 1}


# --- 4. Rolling update: asked at most once more ------------------------------------------
# Expected behaviour (issue 15, item 4): a preferences cookie signed for another revision is
# honoured for what did not change; only a change in an allowed category asks again.


def _browse(cluster: Cluster, page: Page, visits: int, on_banner: Any = None) -> list[str]:
    """`visits` pages served by B, A, B, A... (whatever a choice in between did to the
    turn); the servers of the pages that showed the banner, in order. `on_banner(page,
    server)` is called on each of those."""
    shown: list[str] = []
    for index in range(visits):
        expected = "B" if index % 2 == 0 else "A"
        cluster.steer_next_page_to(expected)
        server = _visit(cluster, page, PAGES[index % len(PAGES)])
        assert server == expected, f"page {index + 1} came from {server}"
        if _shows_banner(page):
            shown.append(server)
            if on_banner is not None:
                on_banner(page, server)
    return shown


@pytest.mark.parametrize("choice_through", ["same", "other"])
def test_rolling_update_asks_who_accepted_all_at_most_once_more(
    rolling_update: Cluster, new_page: Callable[..., Page], choice_through: str
) -> None:
    """Accepted all on X; B's new statistics cookie is in a category they allowed: asked once
    (the choice then goes to the server that showed the banner, or to the other)."""
    cluster = rolling_update
    page = new_page()
    cluster.steer_next_page_to("A")
    _visit(cluster, page, "/about")  # before the update: the choice is made on X
    _choose(cluster, page, ACCEPT_ALL, through="A")

    def accept_again(page: Page, server: str) -> None:
        _choose(
            cluster,
            page,
            ACCEPT_ALL,
            through=server if choice_through == "same" else _other(server),
        )

    shown = _browse(cluster, page, 6, accept_again)

    assert len(shown) <= 1, f"the banner came back on pages from {shown}"
    assert all(allowed(page, c) for c in OPTIONAL)


def test_rolling_update_never_asks_who_refused_all(
    rolling_update: Cluster, new_page: Callable[..., Page]
) -> None:
    """Refused all on X; B's new cookie is in a category they refused: their refusal stands."""
    cluster = rolling_update
    page = new_page()
    cluster.steer_next_page_to("A")
    _visit(cluster, page, "/about")
    _choose(cluster, page, REJECT_ALL, through="A")

    shown = _browse(cluster, page, 6)

    assert shown == [], f"the banner came back on pages from {shown}"
    assert not any(allowed(page, c) for c in OPTIONAL)
