"""CKAN's resource views of content from other sites follow the visitor's choice.

`webpage_view` frames any URL (`page_url`, else the resource's URL), `video_view` and
`audio_view` play media (and a video's poster) from any host: a dataset page would let
those sites set cookies before any choice. A view whose content comes from another origin
than the portal's (scheme, host and port of `ckan.site_url`, or of the request) and from
no host of `ckanext.cookieconsent.resource_view_trusted_hosts` waits behind the embed
placeholder (templates/cookieconsent/snippets/resource_view.html) until the visitor allows
`ckanext.cookieconsent.resource_view_category`. A URL the browser would not load over
http(s) from a host this module can name (`javascript:`, `data:`, no host, a port out of
range, characters browsers rewrite) is not rendered at all.

Not to be confused with `views`, the extension's Flask blueprint. Nothing here renders:
`decide` says what to do with a view; the helpers and templates do it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import ckan.plugins as p
from ckan.exceptions import CkanConfigurationException

from ckanext.cookieconsent import config
from ckanext.cookieconsent.catalogue import Catalogue

log = logging.getLogger(__name__)

CATEGORY_OPTION = "ckanext.cookieconsent.resource_view_category"
TRUSTED_HOSTS_OPTION = "ckanext.cookieconsent.resource_view_trusted_hosts"

# CKAN's view plugins and the fields of a view that name what the browser loads: the first
# is the content (CKAN falls back to the resource's URL when it is empty), the others load
# with it (a video's poster).
VIEW_FIELDS: dict[str, tuple[str, ...]] = {
    "webpage_view": ("page_url",),
    "video_view": ("video_url", "poster_url"),
    "audio_view": ("audio_url",),
}

Origin = tuple[str, str, int]  # scheme, host (ASCII, lower case), port
Verdict = Literal["direct", "gated", "refused"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers drop tabs and newlines anywhere in a URL and read a backslash as a slash:
# "java\tscript:" and "https://trusted.org\@elsewhere" are not what they look like.
_REWRITTEN = re.compile(r"[\x00-\x1f\x7f\\]")
_EDGES = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
# A host after IDNA: letters, digits, hyphens, underscores, dots (no percent-encoding:
# browsers decode it, "%65vil.org" is "evil.org"); or an IPv6 address in brackets.
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\]")


@dataclass(frozen=True)
class Decision:
    """What to do with one view: `direct` (render it as CKAN does), `gated` (the embed
    placeholder naming `hosts`, until the visitor allows the category) or `refused`
    (render nothing of it). `url` is the content's URL."""

    verdict: Verdict
    url: str
    hosts: tuple[str, ...] = ()


def gates(view_type: str) -> bool:
    """Whether views of this type are checked here."""
    return view_type in VIEW_FIELDS


def view_plugins_loaded() -> list[str]:
    return [name for name in VIEW_FIELDS if p.plugin_loaded(name)]


def origin_of(url: str, page: Origin | None) -> Origin | None:
    """The origin a browser would load `url` from, on a page of origin `page` (None if
    unknown: a relative URL then has none); None too for anything but http(s) with a host
    this module can name. Leading and trailing spaces are ignored, as browsers do."""
    url = _EDGES.sub("", url)
    if _REWRITTEN.search(url):
        return None
    if url.startswith("//"):  # protocol-relative: the page's scheme
        if page is None:
            return None
        url = f"{page[0]}:{url}"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" in the host
        return None
    if not parts.scheme and not parts.netloc:
        return page  # a path, a query or a fragment: the page's own origin
    if parts.scheme not in _DEFAULT_PORTS:
        return None
    # Exactly "scheme://host": browsers read "https:host" and "https:///host" their own way.
    after_scheme = url[len(parts.scheme) + 1 :]
    if not after_scheme.startswith("//") or after_scheme[2:3] in ("/", ""):
        return None
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        return None
    host = _ascii_host(parts.hostname or "")
    if host is None or port == 0:
        return None
    return parts.scheme, host, port if port is not None else _DEFAULT_PORTS[parts.scheme]


def _ascii_host(hostname: str) -> str | None:
    """The host as browsers send it (IDNA, lower case), or None if it cannot be one."""
    if ":" in hostname:  # an IPv6 address (urlsplit drops the brackets)
        hostname = f"[{hostname}]"
    else:
        try:
            hostname = hostname.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    return hostname if hostname and _HOST.fullmatch(hostname) else None


def display_host(origin: Origin) -> str:
    """The host of `origin` for people, with its port unless it is the scheme's default."""
    scheme, host, port = origin
    return host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"


def portal_origins(request_host_url: str | None) -> set[Origin]:
    """The portal's own origins: `ckan.site_url`'s and the request's (behind a proxy they
    differ; content from either is the portal's)."""
    found = {origin_of(url, None) for url in (config.public_origin(), request_host_url) if url}
    return {origin for origin in found if origin is not None}


def trusted_hosts() -> frozenset[str]:
    """The hosts whose content loads directly (the option's, IDNA, lower case).
    CkanConfigurationException naming the option for an entry that is not a host name."""
    hosts: set[str] = set()
    for entry in (config.resource_view_trusted_hosts() or "").split():
        host = _ascii_host(entry.rstrip(".")) if "/" not in entry and ":" not in entry else None
        if host is None or host.startswith("["):
            raise CkanConfigurationException(
                f"{TRUSTED_HOSTS_OPTION}: {entry!r} is not a host name. Expected host names "
                "separated by spaces, without scheme, port or path, e.g. "
                "`videos.example.org maps.example.org`."
            )
        hosts.add(host)
    return frozenset(hosts)


def decide(
    view: Mapping[str, Any],
    resource: Mapping[str, Any],
    own: set[Origin],
    page: Origin | None,
    trusted: frozenset[str],
) -> Decision:
    """What to do with `view` (a resource view of a type `gates`): direct when everything
    it loads comes from `own` origins or `trusted` hosts (or it loads nothing), gated when
    something comes from another http(s) origin, refused when something is no URL a
    browser may load from a host named here."""
    fields = VIEW_FIELDS[str(view.get("view_type"))]
    main = str(view.get(fields[0]) or resource.get("url") or "")
    urls = [main, *(str(view.get(name) or "") for name in fields[1:])]
    hosts: list[str] = []
    for url in urls:
        if not url.strip():
            continue  # nothing loaded (CKAN renders an empty src or poster)
        origin = origin_of(url, page)
        if origin is None:
            return Decision("refused", main)
        if origin in own or origin[1] in trusted:
            continue
        if display_host(origin) not in hosts:
            hosts.append(display_host(origin))
    return Decision("gated" if hosts else "direct", main, tuple(hosts))


def check(declared: Catalogue) -> None:
    """At start-up, with one of CKAN's view plugins on: the category third-party views
    wait for must be an optional category of the catalogue, and the trusted hosts host
    names (CkanConfigurationException otherwise). A category that holds no cookie is
    never shown to visitors, who then cannot allow it: such views show a link to the
    content instead, and the log says so."""
    plugins = view_plugins_loaded()
    if not plugins:
        return
    trusted_hosts()
    category_id = config.resource_view_category()
    declared.optional_category(
        category_id,
        CATEGORY_OPTION,
        f"With {', '.join(plugins)} enabled, views of other sites' content wait",
    )
    if category_id not in declared.optional_category_ids:
        log.warning(
            "%s = %r holds no cookie in the catalogue, so visitors are never asked about it: "
            "views of other sites' content (%s) show a link to it instead. Declare the "
            "cookies those sites set in that category, or list the sites in %s.",
            CATEGORY_OPTION,
            category_id,
            ", ".join(plugins),
            TRUSTED_HOSTS_OPTION,
        )
