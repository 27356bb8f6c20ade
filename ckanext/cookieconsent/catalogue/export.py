"""What consumers read of the catalogue: one typed shape per consumer, built here only.

- API (`cookieconsent_cookie_list`, `…_category_list`, `…_policy_show`, templates): texts
  in one language, `api_cookie` / `api_category`.
- Proof of consent (`records`): the catalogue as visitors were shown it, every language
  included, `snapshot`.
- The browser script (`helpers.cookieconsent_script_settings`): what it needs to delete
  refused cookies, `script_cookie`.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from typing import Any, TypedDict

from ckanext.cookieconsent.catalogue.model import (
    Catalogue,
    Category,
    Cookie,
    Duration,
    Location,
    Party,
    Policy,
    Terms,
    Text,
)
from ckanext.cookieconsent.catalogue.texts import duration_text, translate


class ApiDuration(TypedDict):
    seconds: int | None
    session: bool
    text: str


class ApiCookie(TypedDict):
    name: str
    pattern: bool
    category: str
    provider: str
    service: str
    location: Location
    purpose: str
    duration: ApiDuration
    party: Party
    domain: str | None
    path: str | None


class ApiCategory(TypedDict):
    id: str
    title: str
    description: str
    required: bool
    exempt: bool
    order: int
    cookie_count: int


class SnapshotDuration(TypedDict):
    seconds: int | None
    text: dict[str, str]


class SnapshotCookie(TypedDict):
    name: str
    category: str
    provider: dict[str, str]
    service: dict[str, str]
    location: Location
    purpose: dict[str, str]
    duration: SnapshotDuration
    party: Party
    domain: str | None
    path: str | None


class SnapshotCategory(TypedDict):
    id: str
    title: dict[str, str]
    description: dict[str, str]
    required: bool
    exempt: bool


class Snapshot(TypedDict):
    revision: str
    categories: list[SnapshotCategory]
    cookies: list[SnapshotCookie]


class ScriptCookie(TypedDict):
    name: str
    category: str
    domain: str | None
    path: str | None


def api_cookie(cookie: Cookie, lang: str) -> ApiCookie:
    return {
        "name": cookie.name,
        "pattern": cookie.is_pattern,
        "category": cookie.category,
        "provider": translate(cookie.provider, lang),
        "service": translate(cookie.service, lang),
        "location": cookie.location,
        "purpose": translate(cookie.purpose, lang),
        "duration": {
            "seconds": cookie.duration.seconds,
            "session": cookie.duration.is_session,
            "text": duration_text(cookie.duration, lang),
        },
        "party": cookie.party,
        "domain": cookie.domain,
        "path": cookie.path,
    }


def api_category(category: Category, lang: str, cookie_count: int) -> ApiCategory:
    return {
        "id": category.id,
        "title": translate(category.title, lang),
        "description": translate(category.description, lang),
        "required": category.required,
        "exempt": category.exempt,
        "order": category.order,
        "cookie_count": cookie_count,
    }


def snapshot(catalogue: Catalogue) -> Snapshot:
    """The catalogue as visitors were shown it: the visible categories, every cookie, each
    text in every language it has (durations in every language the catalogue speaks)."""
    langs = languages(catalogue)

    def durations(duration: Duration) -> dict[str, str]:
        if duration.text:
            return dict(duration.text)
        return {lang: duration_text(duration, lang) for lang in langs}

    return {
        "revision": catalogue.revision,
        "categories": [
            {"id": c.id, "title": dict(c.title), "description": dict(c.description),
             "required": c.required, "exempt": c.exempt}
            for c in catalogue.visible_categories
        ],
        "cookies": [
            {"name": k.name, "category": k.category, "provider": dict(k.provider),
             "service": dict(k.service), "location": k.location, "purpose": dict(k.purpose),
             "duration": {"seconds": k.duration.seconds, "text": durations(k.duration)},
             "party": k.party, "domain": k.domain, "path": k.path}
            for k in catalogue.cookies
        ],
    }  # fmt: skip


def policy_of_snapshot(stored: Mapping[str, Any]) -> Policy:
    """The policy a stored `snapshot` (a past or newer revision) answered, as
    Catalogue.policy gives it for the catalogue in force. KeyError or TypeError if the
    snapshot does not have snapshot()'s shape."""
    cookies = stored["cookies"]
    categories = stored["categories"]
    return Policy(
        revision=str(stored["revision"]),
        categories=tuple(c["id"] for c in categories),
        terms={
            c["id"]: Terms(
                bool(c["exempt"]),
                frozenset((k["name"], k["party"]) for k in cookies if k["category"] == c["id"]),
            )
            for c in categories
            if not c["required"]
        },
        required=frozenset(c["id"] for c in categories if c["required"]),
    )


def script_cookie(cookie: Cookie) -> ScriptCookie:
    return {"name": cookie.name, "category": cookie.category, "domain": cookie.domain,
            "path": cookie.path}  # fmt: skip


def script_cookies(catalogue: Catalogue) -> list[ScriptCookie]:
    """The cookies the script may delete: those of categories a visitor can refuse."""
    required = catalogue.required_category_ids
    return [script_cookie(c) for c in catalogue.cookies if c.category not in required]


def languages(catalogue: Catalogue) -> tuple[str, ...]:
    """The languages the catalogue's texts are written in, and those the extension ships."""
    texts: list[Text] = [t for c in catalogue.categories for t in (c.title, c.description)]
    texts += [t for c in catalogue.cookies for t in (c.provider, c.service, c.purpose)]
    found = {lang for text in texts for lang in text if lang != "*"}
    return tuple(sorted(found | set(shipped_languages())))


@functools.cache
def shipped_languages() -> tuple[str, ...]:
    """The languages of the extension's gettext catalogues (i18n/<lang>/)."""
    i18n = importlib.resources.files("ckanext.cookieconsent").joinpath("i18n")
    return tuple(sorted(p.name for p in i18n.iterdir() if p.joinpath("LC_MESSAGES").is_dir()))
