"""The cookie catalogue: every category and cookie the portal declares.

Built from the built-in catalogue (what stock CKAN and this extension set) and the
portal's own file (``ckanext.cookieconsent.catalogue``), validated once at start-up.
A broken file stops start-up with a `CatalogueError` naming the file, the entry and
the field, and saying what is expected.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from ckan.exceptions import CkanConfigurationException

BUILTIN_FILE = "builtin_catalogue.yaml"
DEFAULT_LANG = "en"
REVISION_LENGTH = 8

Location = Literal["front", "back", "both"]
Party = Literal["first", "third"]
LOCATIONS: tuple[Location, ...] = ("front", "back", "both")
PARTIES: tuple[Party, ...] = ("first", "third")

# RFC 6265 cookie-name characters (a "token"), plus "*" as the pattern wildcard.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # used with fullmatch
# RFC 6265 section 4.1.1: a domain-value is a host name (an optional leading dot is
# ignored by browsers); a path-value is any printable character but ";". Both end up in
# Set-Cookie headers and in document.cookie: nothing else may slip in.
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_COOKIE_DOMAIN = re.compile(rf"\.?{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*")
_COOKIE_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_REVISION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_DURATION = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*")

_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_UNIT_WORDS = {
    "en": {
        "second": ("second", "seconds"),
        "minute": ("minute", "minutes"),
        "hour": ("hour", "hours"),
        "day": ("day", "days"),
        "week": ("week", "weeks"),
        "month": ("month", "months"),
        "year": ("year", "years"),
    },
    "fr": {
        "second": ("seconde", "secondes"),
        "minute": ("minute", "minutes"),
        "hour": ("heure", "heures"),
        "day": ("jour", "jours"),
        "week": ("semaine", "semaines"),
        "month": ("mois", "mois"),
        "year": ("an", "ans"),
    },
}
_SESSION_TEXT = {
    "en": "Session (deleted when the browser closes)",
    "fr": "Session (supprimé à la fermeture du navigateur)",
}

_CATEGORY_FIELDS = {"id", "title", "description", "required", "exempt", "order"}
_CATEGORY_REQUIRED = ("id", "title", "description")
_COOKIE_FIELDS = {
    "name",
    "category",
    "provider",
    "service",
    "location",
    "purpose",
    "duration",
    "duration_text",
    "party",
    "domain",
    "path",
}
_COOKIE_REQUIRED = ("name", "category", "provider", "service", "purpose", "duration")
_TOP_FIELDS = {"revision", "updated", "categories", "cookies"}


class CatalogueError(CkanConfigurationException):
    """A catalogue file that cannot be used; the message says where and why.

    A configuration error: raised while CKAN loads the plugin, CKAN's commands print its
    message alone (no traceback) and stop.
    """


# A text shown to people: one string per language. A plain string in a file is
# stored under "*" and serves every language.
Text = Mapping[str, str]


def translate(text: Text, lang: str) -> str:
    """The text in `lang`, else its base language, else English, else any."""
    for key in (lang, lang.split("_")[0], "*", DEFAULT_LANG):
        if key in text:
            return text[key]
    return next(iter(text.values()))


@dataclass(frozen=True)
class Duration:
    """How long a cookie lives: `seconds` is None for a session cookie."""

    seconds: int | None
    text: Text

    @property
    def is_session(self) -> bool:
        return self.seconds is None


@dataclass(frozen=True)
class Category:
    id: str
    title: Text
    description: Text
    required: bool = False
    exempt: bool = False
    order: int = 100


@dataclass(frozen=True)
class Cookie:
    name: str
    category: str
    provider: Text
    service: Text
    purpose: Text
    duration: Duration
    location: Location = "both"
    party: Party = "first"
    domain: str | None = None
    path: str | None = None

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name

    def matches(self, cookie_name: str) -> bool:
        """Whether a cookie the browser holds is this catalogue entry."""
        if not self.is_pattern:
            return cookie_name == self.name
        return _pattern_regex(self.name).fullmatch(cookie_name) is not None


@functools.lru_cache(maxsize=256)  # compiled once per pattern, not on every match
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


@dataclass(frozen=True, eq=False)  # compared by identity, so it can key a cache
class Catalogue:
    categories: tuple[Category, ...]
    cookies: tuple[Cookie, ...]
    revision: str
    updated: datetime.date | None = None

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def cookies_of(self, category_id: str) -> tuple[Cookie, ...]:
        return tuple(c for c in self.cookies if c.category == category_id)

    @property
    def visible_categories(self) -> tuple[Category, ...]:
        """Categories a visitor is asked about: those holding at least one cookie."""
        used = {c.category for c in self.cookies}
        return tuple(c for c in self.categories if c.id in used or c.required)

    @property
    def optional_category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.visible_categories if not c.required)

    def entry_for(self, cookie_name: str, category_ids: set[str]) -> Cookie | None:
        """The catalogue entry of one of `category_ids` that a browser cookie matches."""
        return next(
            (c for c in self.cookies if c.category in category_ids and c.matches(cookie_name)),
            None,
        )


def compute_revision(categories: Iterable[Category], cookies: Iterable[Cookie]) -> str:
    """A short id of what consent depends on: categories, their kind, their cookies.

    Wording is left out on purpose: fixing a typo must not ask every visitor again.
    """
    shape = sorted(
        (
            c.id,
            c.required,
            c.exempt,
            sorted((k.name, k.party) for k in cookies if k.category == c.id),
        )
        for c in categories
    )
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()
    return digest[:REVISION_LENGTH]


# --- Loading -----------------------------------------------------------------


def load(
    admin_file: str | None,
    builtin_values: Mapping[str, str],
    extra_cookies: Callable[[Catalogue], Iterable[Mapping[str, Any]]] | None = None,
) -> Catalogue:
    """The built-in catalogue merged with the portal's file, validated.

    `builtin_values` fills the built-in file's `{placeholders}`: the names and
    lifetimes of CKAN's own cookies follow the portal's configuration.
    `extra_cookies`, given the catalogue as declared so far, returns built-in cookie
    entries to add (an integration's cookies the portal's file does not declare).
    """
    package = importlib.resources.files("ckanext.cookieconsent")
    builtin_text = package.joinpath(BUILTIN_FILE).read_text("utf-8")
    for key, value in builtin_values.items():
        builtin_text = builtin_text.replace("{" + key + "}", value)
    builtin = _parse_document(builtin_text, "built-in catalogue", json_file=False)
    raw_categories = _as_list(builtin, "categories", "built-in catalogue")
    raw_cookies = _as_list(builtin, "cookies", "built-in catalogue")
    revision: str | None = None
    updated: datetime.date | None = None

    if admin_file:
        path, text = _read_admin_file(admin_file)
        admin = _parse_document(text, path, json_file=path.endswith(".json"))
        _check_keys(admin, _TOP_FIELDS, path, "the top level")
        raw_categories = _merge(raw_categories, _as_list(admin, "categories", path), "id", path)
        raw_cookies = _merge(raw_cookies, _as_list(admin, "cookies", path), "name", path)
        revision = _revision_field(admin.get("revision"), path)
        updated = _updated_field(admin.get("updated"), path)
        if updated is None:
            updated = datetime.date.fromtimestamp(os.path.getmtime(path))
        source = path
    else:
        source = "built-in catalogue"

    categories = tuple(_category(raw, source) for raw in raw_categories)
    _check_unique((c.id for c in categories), source, "categories", "id")
    if sum(c.required for c in categories) != 1:
        raise CatalogueError(
            f"{source}: categories: exactly one category must have `required: true` "
            "(the strictly necessary cookies)."
        )
    known = {c.id for c in categories}
    cookies = tuple(_cookie(raw, source, known) for raw in raw_cookies)
    _check_unique((c.name for c in cookies), source, "cookies", "name")
    categories = tuple(sorted(categories, key=lambda c: (not c.required, c.order, c.id)))
    if extra_cookies is not None:
        declared = Catalogue(categories=categories, cookies=cookies, revision="")
        extra = extra_cookies(declared)
        cookies += tuple(_cookie(raw, "built-in catalogue", known) for raw in extra)
        _check_unique((c.name for c in cookies), source, "cookies", "name")
    return Catalogue(
        categories=categories,
        cookies=cookies,
        revision=revision or compute_revision(categories, cookies),
        updated=updated,
    )


def _read_admin_file(spec: str) -> tuple[str, str]:
    """Read `path` or `package:path/in/package`; return (name to show, text)."""
    path = spec
    if ":" in spec and not os.path.isabs(spec):
        package, _, inner = spec.partition(":")
        try:
            path = str(importlib.resources.files(package).joinpath(inner))
        except (ModuleNotFoundError, TypeError) as error:
            raise CatalogueError(
                f"{spec}: ckanext.cookieconsent.catalogue names package {package!r}, "
                f"which cannot be imported ({error}). Expected a file path or package:path."
            ) from error
    try:
        with open(path, encoding="utf-8") as handle:
            return path, handle.read()
    except OSError as error:
        raise CatalogueError(
            f"{path}: cannot read the catalogue named by ckanext.cookieconsent.catalogue "
            f"({error.strerror}). Expected a readable YAML or JSON file."
        ) from error
    except UnicodeDecodeError as error:
        raise CatalogueError(f"{path}: the catalogue is not UTF-8 text ({error}).") from error


def _parse_document(text: str, source: str, *, json_file: bool) -> dict[str, Any]:
    try:
        data = json.loads(text) if json_file else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise CatalogueError(
            f"{source}: line {error.lineno}, column {error.colno}: invalid JSON ({error.msg})."
        ) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CatalogueError(f"{source}: {where}invalid YAML ({problem}).") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CatalogueError(
            f"{source}: the top level must be a mapping with `categories` and/or `cookies`, "
            f"not a {type(data).__name__}."
        )
    return data


def _as_list(document: Mapping[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if not isinstance(value, list):
        raise CatalogueError(f"{source}: `{key}` must be a list of entries.")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise CatalogueError(
                f"{source}: {key}[{index}]: each entry must be a mapping of fields, "
                f"not a {type(entry).__name__}."
            )
    return value


def _merge(
    builtin: list[dict[str, Any]], admin: list[dict[str, Any]], key: str, source: str
) -> list[dict[str, Any]]:
    """Admin entries override built-in ones with the same `key`, field by field."""
    merged = {str(entry[key]): dict(entry) for entry in builtin}
    order = list(merged)
    seen: set[str] = set()
    for index, entry in enumerate(admin):
        ident = entry.get(key)
        if ident is None:
            kind = "categories" if key == "id" else "cookies"
            raise CatalogueError(f"{source}: {kind}[{index}]: missing field `{key}`.")
        ident = str(ident)
        if ident in seen:
            kind = "category" if key == "id" else "cookie"
            raise CatalogueError(
                f"{source}: {kind} {ident!r}: declared twice; each {key} must be unique."
            )
        seen.add(ident)
        if ident in merged:
            merged[ident] = {**merged[ident], **entry}
        else:
            merged[ident] = dict(entry)
            order.append(ident)
    return [merged[ident] for ident in order]


def _check_keys(entry: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CatalogueError(
            f"{source}: {where}: unknown field `{unknown[0]}`; "
            f"expected one of: {', '.join(sorted(allowed))}."
        )


def _check_unique(values: Iterable[str], source: str, kind: str, field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CatalogueError(f"{source}: {kind}: {field} {value!r} is declared twice.")
        seen.add(value)


def _text(value: Any, where: str, field: str, *, optional: bool = False) -> Text:
    """A plain string, or a mapping of language code to string."""
    if isinstance(value, str) and value.strip():
        return {"*": value.strip()}
    if isinstance(value, dict) and value:
        result: dict[str, str] = {}
        for lang, text in value.items():
            if not isinstance(lang, str) or not _LANG.fullmatch(lang):
                raise CatalogueError(
                    f"{where}: field `{field}`: {lang!r} is not a language code "
                    "(expected e.g. `en`, `fr`, `pt_BR`)."
                )
            if not isinstance(text, str) or not text.strip():
                raise CatalogueError(
                    f"{where}: field `{field}`: the {lang!r} text must be a non-empty string."
                )
            result[lang] = text.strip()
        return result
    if optional and value is None:
        return {}
    raise CatalogueError(
        f"{where}: field `{field}` must be a non-empty string or a mapping of language "
        "to string (e.g. {fr: ..., en: ...})."
    )


def _bool(value: Any, where: str, field: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogueError(f"{where}: field `{field}` must be true or false, not {value!r}.")
    return value


def _category(raw: Mapping[str, Any], source: str) -> Category:
    where = f"{source}: category {raw.get('id')!r}"
    _check_keys(raw, _CATEGORY_FIELDS, source, f"category {raw.get('id')!r}")
    for field in _CATEGORY_REQUIRED:
        if raw.get(field) in (None, ""):
            raise CatalogueError(f"{where}: missing field `{field}`.")
    ident = raw["id"]
    if not isinstance(ident, str) or not _SLUG.fullmatch(ident):
        raise CatalogueError(
            f"{where}: field `id` must be a slug: lowercase letters, digits, `-` or `_`, "
            "starting with a letter, at most 40 characters."
        )
    required = _bool(raw.get("required", False), where, "required")
    exempt = _bool(raw.get("exempt", False), where, "exempt")
    if required and exempt:
        raise CatalogueError(
            f"{where}: `required` and `exempt` cannot both be true: necessary cookies are "
            "always on, exempt audience measurement can be turned off."
        )
    order = raw.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        raise CatalogueError(f"{where}: field `order` must be an integer, not {order!r}.")
    return Category(
        id=ident,
        title=_text(raw["title"], where, "title"),
        description=_text(raw["description"], where, "description"),
        required=required,
        exempt=exempt,
        order=order,
    )


def _cookie(raw: Mapping[str, Any], source: str, categories: set[str]) -> Cookie:
    where = f"{source}: cookie {raw.get('name')!r}"
    _check_keys(raw, _COOKIE_FIELDS, source, f"cookie {raw.get('name')!r}")
    for field in _COOKIE_REQUIRED:
        if raw.get(field) in (None, ""):
            raise CatalogueError(f"{where}: missing field `{field}`.")
    name = raw["name"]
    if not isinstance(name, str) or not _COOKIE_NAME.fullmatch(name) or name.strip("*") == "":
        raise CatalogueError(
            f"{where}: field `name` must be a cookie name, or a pattern where `*` stands for "
            "any characters (e.g. `_pk_id.*`); no spaces, quotes, `=`, `;`, `,` or `/`, "
            "and not only `*`."
        )
    if raw["category"] not in categories:
        raise CatalogueError(
            f"{where}: field `category`: unknown category {raw['category']!r}; "
            f"expected one of: {', '.join(sorted(categories))}."
        )
    location = raw.get("location", "both")
    if location not in LOCATIONS:
        raise CatalogueError(
            f"{where}: field `location` must be one of {', '.join(LOCATIONS)}, not {location!r}."
        )
    party = raw.get("party", "first")
    if party not in PARTIES:
        raise CatalogueError(
            f"{where}: field `party` must be one of {', '.join(PARTIES)}, not {party!r}."
        )
    domain = raw.get("domain")
    if domain is not None and (
        not isinstance(domain, str) or len(domain) > 253 or not _COOKIE_DOMAIN.fullmatch(domain)
    ):
        raise CatalogueError(
            f"{where}: field `domain` must be a host name such as `.example.org` "
            f"(letters, digits, `-` and `.`; RFC 6265), not {domain!r}."
        )
    path = raw.get("path")
    if path is not None and (not isinstance(path, str) or not _COOKIE_PATH.fullmatch(path)):
        raise CatalogueError(
            f"{where}: field `path` must start with `/` and hold only printable characters, "
            f"without spaces or `;` (RFC 6265), not {path!r}."
        )
    return Cookie(
        name=name,
        category=raw["category"],
        provider=_text(raw["provider"], where, "provider"),
        service=_text(raw["service"], where, "service"),
        purpose=_text(raw["purpose"], where, "purpose"),
        duration=_duration(raw["duration"], raw.get("duration_text"), where),
        location=location,
        party=party,
        domain=raw.get("domain"),
        path=path,
    )


def _duration(value: Any, text: Any, where: str) -> Duration:
    """`session`, a number of seconds, or `<n> <unit>` (e.g. `13 months`)."""
    override = _text(text, where, "duration_text", optional=True)
    if value == "session":
        return Duration(None, override or _SESSION_TEXT)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        unit = _largest_whole_unit(value)
        return Duration(value, override or _duration_words(value // _UNIT_SECONDS[unit], unit))
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    unit = match.group(2).rstrip("s") if match else ""
    if match is None or unit not in _UNIT_SECONDS or int(match.group(1)) <= 0:
        raise CatalogueError(
            f"{where}: field `duration`: {value!r} is not a duration; expected `session`, "
            "a number of seconds, or a count and a unit such as `30 minutes`, `2 weeks`, "
            "`13 months` (units: seconds, minutes, hours, days, weeks, months, years)."
        )
    count = int(match.group(1))
    return Duration(count * _UNIT_SECONDS[unit], override or _duration_words(count, unit))


def _largest_whole_unit(seconds: int) -> str:
    """The largest unit that counts `seconds` exactly (15552000 -> month)."""
    return max(
        (unit for unit, size in _UNIT_SECONDS.items() if seconds % size == 0),
        key=_UNIT_SECONDS.__getitem__,
    )


def _duration_words(count: int, unit: str) -> Text:
    return {
        lang: f"{count} {words[unit][0] if count == 1 else words[unit][1]}"
        for lang, words in _UNIT_WORDS.items()
    }


def _revision_field(value: Any, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or not _REVISION.fullmatch(str(value)):
        raise CatalogueError(
            f"{source}: field `revision` must be 1 to 32 letters, digits, `.`, `_` or `-`, "
            f"not {value!r}."
        )
    return str(value)


def _updated_field(value: Any, source: str) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise CatalogueError(
            f"{source}: field `updated` must be a date such as 2026-11-29, not {value!r}."
        ) from error


# --- What people and API clients read ----------------------------------------


def cookie_as_dict(cookie: Cookie, lang: str) -> dict[str, Any]:
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
            "text": translate(cookie.duration.text, lang),
        },
        "party": cookie.party,
        "domain": cookie.domain,
        "path": cookie.path,
    }


def category_as_dict(category: Category, lang: str, cookie_count: int) -> dict[str, Any]:
    return {
        "id": category.id,
        "title": translate(category.title, lang),
        "description": translate(category.description, lang),
        "required": category.required,
        "exempt": category.exempt,
        "order": category.order,
        "cookie_count": cookie_count,
    }


# --- The catalogue in force ----------------------------------------------------

_current: Catalogue | None = None


def install(catalogue: Catalogue) -> None:
    """Make `catalogue` the one every request uses (called once at start-up)."""
    global _current
    _current = catalogue


def current() -> Catalogue:
    if _current is None:
        raise RuntimeError("the cookieconsent plugin is not loaded: no catalogue in force")
    return _current
