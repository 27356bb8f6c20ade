"""CKAN's resource views (webpage_view, video_view, audio_view) of other sites' content wait
for the visitor's choice: over HTTP, on a real CKAN with its view plugins and real
datasets, resources and views (indexed by the Solr stand-in, tests/solr_standin.py).

Each view is read where CKAN shows it: inline on the resource page, and on its own page
(/dataset/<id>/resource/<rid>/view/<vid>, the "Fullscreen" link and the embed code's frame),
which extends base.html. test_browser_resource_views.py checks what a browser requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from ckan.exceptions import CkanConfigurationException
from ckan.tests import factories
from ckan.tests.helpers import call_action
from helpers import EXAMPLE, choose
from solr_standin import SolrStandin

VIEW_PLUGINS = "cookieconsent webpage_view video_view audio_view"
THIRD_PARTY = "https://maps.example.org/embed/42"
SITE = "http://test.ckan.net"  # test.ini's ckan.site_url

# The configuration of every test, unless its own ckan_config mark says otherwise (a
# module-level mark would win over a test's). Pages' tests ask for `portal`; tests of
# start-up errors load the plugins themselves.
DEFAULTS = {"ckan.plugins": VIEW_PLUGINS, "ckanext.cookieconsent.catalogue": EXAMPLE}


@pytest.fixture
def view_config(request: pytest.FixtureRequest, ckan_config: Any) -> Any:
    own = {mark.args[0] for mark in request.node.iter_markers("ckan_config")}
    for key, value in DEFAULTS.items():
        if key not in own:
            ckan_config[key] = value
    return ckan_config


@pytest.fixture
def solr(ckan_config: Any) -> Iterator[SolrStandin]:
    """CKAN indexes every dataset it writes: the stand-in answers for Solr."""
    with SolrStandin() as standin:
        ckan_config["solr_url"] = standin.url
        yield standin


@pytest.fixture
def portal(view_config: Any, solr: SolrStandin, with_plugins: Any, app: Any) -> Any:
    """The test's CKAN with the view plugins, able to create datasets."""
    return app


def _view(view_type: str = "webpage_view", url: str = THIRD_PARTY, **fields: Any) -> list[str]:
    """A dataset with one resource at `url` and one view of it: the resource page's path
    and the view's own page's path."""
    dataset = factories.Dataset(owner_org=factories.Organization()["id"])
    resource = factories.Resource(package_id=dataset["id"], url=url, format="html")
    view = call_action(
        "resource_view_create",
        resource_id=resource["id"],
        view_type=view_type,
        title="Regional map",
        **fields,
    )
    page = f"/dataset/{dataset['name']}/resource/{resource['id']}"
    return [page, f"{page}/view/{view['id']}"]


def _both(client: Any, paths: list[str]) -> list[str]:
    """The pages at `paths`, fetched by `client` (the app, or a test client with cookies)."""
    pages = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        pages.append(response.body)
    return pages


def _live(html: str) -> str:
    """The page less what waits in a placeholder's <template> (inert until allowed)."""
    return re.sub(r"<template>.*?</template>", "", html, flags=re.S)


def _loads(html: str, url: str) -> bool:
    """Whether the page's live markup loads `url` (an iframe, a media element, a poster)."""
    return re.search(rf'\b(src|poster)="{re.escape(url)}"', _live(html)) is not None


def _placeholders(html: str) -> list[str]:
    return re.findall(r'<div class="cookieconsent-embed" data-cookieconsent-embed="(\w+)"', html)


# --- Another site's page waits, named, on the resource page and in the view's frame ---------


def test_third_party_page_waits_behind_a_placeholder_naming_its_host(portal: Any) -> None:
    for html in _both(portal, _view()):
        assert _placeholders(html) == ["media"]
        assert not _loads(html, THIRD_PARTY)
        live = _live(html)
        assert "This content is provided by maps.example.org" in live
        assert "Regional map" in live
        assert "Allow this once" in live and "Always allow “Third-party content”" in live
        # CKAN's own iframe waits in the placeholder, to be put in place once allowed.
        assert re.search(rf'<template><iframe [^>]*src="{re.escape(THIRD_PARTY)}"', html)
        # Without JavaScript: a link to the content, and the form that stores consent.
        assert f'<noscript><p><a href="{THIRD_PARTY}" rel="noopener">' in live
        assert 'name="category" value="media"' in live


def test_the_views_own_page_brings_the_script_that_starts_it(portal: Any) -> None:
    resource_page, frame = _both(portal, _view())
    # The view's page extends base.html: its settings and the core script come with it.
    assert frame.count('id="cookieconsent-settings"') == 1
    assert re.search(r'<script src="[^"]*cookieconsent\.js', frame)
    assert re.search(r'<script src="[^"]*cookieconsent-embed\.js', frame)
    # The resource page has page.html's settings, once.
    assert resource_page.count('id="cookieconsent-settings"') == 1


def test_the_frames_form_comes_back_to_the_frame_and_shows_the_content(portal: Any) -> None:
    _, frame = _view()
    client = portal.test_client()
    before = client.get(frame).body
    came_from = re.search(r'name="came_from" value="([^"]+)"', before)
    assert came_from is not None and came_from.group(1) == frame

    answer = choose(client, "allow", category="media", origin="embed", came_from=frame)

    assert answer.status_code == 303 and answer.headers["Location"].endswith(frame)
    after = client.get(frame).body
    assert _placeholders(after) == [] and _loads(after, THIRD_PARTY)


def test_an_allowed_category_loads_the_content_directly(portal: Any) -> None:
    client = portal.test_client()
    assert choose(client, "accept_all").status_code == 303
    for html in _both(client, _view()):
        assert _placeholders(html) == []
        assert _loads(html, THIRD_PARTY)


# --- The portal's own content and trusted hosts load directly --------------------------------


def test_the_portals_own_content_loads_directly(portal: Any) -> None:
    for html in _both(portal, _view(url=f"{SITE}/dataset/report.html")):
        assert _placeholders(html) == []
        assert _loads(html, f"{SITE}/dataset/report.html")


def test_content_from_the_origin_the_request_came_to_loads_directly(portal: Any) -> None:
    """Behind a proxy CKAN may be reached on another origin than ckan.site_url's."""
    url = "http://ckan.internal:5000/dataset/report.html"
    paths = _view(url=url)
    for path in paths:
        html = portal.get(path, headers={"Host": "ckan.internal:5000"}).body
        assert _placeholders(html) == [] and _loads(html, url)
    for html in _both(portal, paths):  # reached on test.ckan.net: another origin
        assert _placeholders(html) == ["media"]


@pytest.mark.parametrize("page_url", ["/about", "report.html", "?page=2"])
def test_a_relative_page_url_is_the_portals_own(portal: Any, page_url: str) -> None:
    # CKAN keeps a view's page_url as given (a resource's URL gets "http://" prepended).
    for html in _both(portal, _view(page_url=page_url)):
        assert _placeholders(html) == []
        assert _loads(html, page_url)


@pytest.mark.ckan_config(
    "ckanext.cookieconsent.resource_view_trusted_hosts", "videos.example.org MAPS.example.org"
)
def test_a_trusted_host_loads_directly(portal: Any) -> None:
    for html in _both(portal, _view()):
        assert _placeholders(html) == []
        assert _loads(html, THIRD_PARTY)


@pytest.mark.parametrize(
    "url",
    [f"{SITE}:8443/page.html", "https://test.ckan.net/page.html", "http://sub.test.ckan.net/"],
    ids=["other-port", "other-scheme", "subdomain"],
)
def test_another_origin_of_the_portals_host_waits(portal: Any, url: str) -> None:
    for html in _both(portal, _view(url=url)):
        assert _placeholders(html) == ["media"]
        assert not _loads(html, url)


def test_page_url_wins_over_the_resources_url(portal: Any) -> None:
    paths = _view(url=f"{SITE}/local.html", page_url="https://elsewhere.example.net/x")
    for html in _both(portal, paths):
        assert "This content is provided by elsewhere.example.net" in html
        assert not _loads(html, "https://elsewhere.example.net/x")


# --- Media from another site ---------------------------------------------------------------


def test_third_party_video_and_audio_wait(portal: Any) -> None:
    video = "https://media.example.org/talk.mp4"
    audio = "https://media.example.org:8443/talk.mp3"
    for html in _both(portal, _view("video_view", url=video)):
        assert _placeholders(html) == ["media"] and not _loads(html, video)
        assert re.search(r"<template>\s*<video", html)
    for html in _both(portal, _view("audio_view", url=audio)):
        assert _placeholders(html) == ["media"] and not _loads(html, audio)
        assert "This content is provided by media.example.org:8443" in html


def test_a_third_party_poster_makes_a_local_video_wait(portal: Any) -> None:
    poster = "https://images.example.org/poster.jpg"
    paths = _view("video_view", url=f"{SITE}/talk.mp4", poster_url=poster)
    for html in _both(portal, paths):
        assert _placeholders(html) == ["media"]
        assert "This content is provided by images.example.org" in html
        assert not _loads(html, poster) and not _loads(html, f"{SITE}/talk.mp4")


# --- Hostile URLs: nothing a browser would run or load from a host nobody named -------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "http:///maps.example.org/",
        "https:maps.example.org/x",
        "///maps.example.org/x",
        "/\\maps.example.org/x",
        "https://test.ckan.net\\@maps.example.org/",
        "http://maps.example.org:99999/",
        "http://maps.example.org:0/",
        "http://maps.example.org:8o80/",
        "https://%6Daps.example.org/",
        "https://[::1/",
    ],
)
def test_a_hostile_url_is_not_rendered(portal: Any, url: str) -> None:
    # As a page_url: CKAN keeps it as given (it prepends "http://" to a resource's URL).
    for html in _both(portal, _view(url=f"{SITE}/x.html", page_url=url)):
        view = _view_part(html).lower()
        assert "this resource view is not available at the moment." in view
        assert _placeholders(view) == []
        assert "javascript:" not in view and "vbscript:" not in view
        assert "data:text/html" not in view
        assert "maps.example.org" not in view and "aps.example.org" not in view


def _view_part(html: str) -> str:
    """What the view renders: on the resource page, CKAN's view area (the page around it
    shows the resource's URL as CKAN does); on the view's own page, its body."""
    start = html.find('<div class="m-top ckanext-datapreview">')
    if start != -1:
        return html[start : html.index('class="modal fade resource-view-embed"', start)]
    return html[html.index("<body") :]


def test_protocol_relative_url_is_another_site(portal: Any) -> None:
    for html in _both(portal, _view(page_url="//maps.example.org/embed")):
        assert _placeholders(html) == ["media"]
        assert "This content is provided by maps.example.org" in html
        assert not _loads(html, "//maps.example.org/embed")


def test_userinfo_does_not_disguise_the_host(portal: Any) -> None:
    url = "https://test.ckan.net@maps.example.org/embed"
    for html in _both(portal, _view(url=url)):
        assert "This content is provided by maps.example.org" in html
        assert not _loads(html, url)


def test_an_internationalised_host_is_named_in_its_ascii_form(portal: Any) -> None:
    for html in _both(portal, _view(url="https://bücher.example/page")):
        assert "This content is provided by xn--bcher-kva.example" in html


# --- The catalogue must let visitors allow the category -------------------------------------


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", "")
def test_with_a_category_holding_no_cookie_the_view_is_a_link(portal: Any) -> None:
    """The built-in catalogue declares no cookie in `media`: visitors are never asked about
    it, so nothing can allow the view; it links to the content instead."""
    for html in _both(portal, _view()):
        assert _placeholders(html) == ["media"]
        assert "This portal has not declared the cookies it may set" in html
        assert f'<p><a href="{THIRD_PARTY}" rel="noopener">' in html
        assert "Allow this once" not in html and 'value="allow"' not in html
        assert not _loads(html, THIRD_PARTY)


def _start_up_error() -> str:
    import ckan.plugins as plugins

    with pytest.raises(CkanConfigurationException) as raised:
        plugins.load_all()
    plugins.unload_all()
    return str(raised.value)


@pytest.mark.ckan_config("ckanext.cookieconsent.resource_view_category", "videos")
@pytest.mark.usefixtures("view_config")
def test_an_unknown_category_stops_start_up() -> None:
    assert _start_up_error() == (
        "ckanext.cookieconsent.resource_view_category = 'videos' is not a category of the "
        "cookie catalogue. With webpage_view, video_view, audio_view enabled, views of other "
        "sites' content wait for this category: set it to one of the catalogue's optional "
        "categories: statistics, media."
    )


@pytest.mark.ckan_config("ckanext.cookieconsent.resource_view_category", "necessary")
@pytest.mark.usefixtures("view_config")
def test_the_required_category_stops_start_up() -> None:
    assert "'necessary' is the strictly necessary category" in _start_up_error()


@pytest.mark.ckan_config(
    "ckanext.cookieconsent.resource_view_trusted_hosts", "https://videos.example.org"
)
@pytest.mark.usefixtures("view_config")
def test_a_trusted_host_with_a_scheme_stops_start_up() -> None:
    assert _start_up_error().startswith(
        "ckanext.cookieconsent.resource_view_trusted_hosts: 'https://videos.example.org' is "
        "not a host name."
    )


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.ckan_config("ckanext.cookieconsent.resource_view_category", "videos")
@pytest.mark.usefixtures("view_config")
def test_without_view_plugins_the_category_is_not_checked() -> None:
    import ckan.plugins as plugins

    plugins.load_all()
    plugins.unload_all()


def test_the_views_texts_are_translated(portal: Any) -> None:
    """The placeholder's texts are the embed's; the refusal is CKAN's own message, in
    CKAN's translations."""
    gated, _ = _view()
    assert "Autoriser cette fois" in portal.get(f"/fr{gated}").body
    refused, _ = _view(url=f"{SITE}/x.html", page_url="javascript:alert(1)")
    html = portal.get(f"/fr{refused}").body
    assert "Cette visualisation de ressource n'est pas disponible pour le moment" in html


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", "")
@pytest.mark.usefixtures("view_config")
def test_a_category_holding_no_cookie_is_logged_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import ckan.plugins as plugins

    with caplog.at_level("WARNING", logger="ckanext.cookieconsent.views_gate"):
        plugins.load_all()
    plugins.unload_all()
    (warning,) = [r.getMessage() for r in caplog.records if r.name.endswith("views_gate")]
    assert warning.startswith(
        "ckanext.cookieconsent.resource_view_category = 'media' holds no cookie in the "
        "catalogue, so visitors are never asked about it"
    )
