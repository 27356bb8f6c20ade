"""Field validation: each raw entry of a catalogue file becomes a `Category` or a `Cookie`.

Every message names the file, the entry and the field, and says what is expected.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from ckanext.cookieconsent.catalogue.model import (
    LOCATIONS,
    PARTIES,
    UNIT_SECONDS,
    CatalogueError,
    Category,
    Cookie,
    Duration,
    Text,
    Unit,
)

# RFC 6265 cookie-name characters (a "token"), plus "*" as the pattern wildcard.
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # used with fullmatch
# RFC 6265 section 4.1.1: a domain-value is a host name (an optional leading dot is
# ignored by browsers); a path-value is any printable character but ";". Both end up in
# Set-Cookie headers and in document.cookie: nothing else may slip in.
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
COOKIE_DOMAIN = re.compile(rf"\.?{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*")
COOKIE_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")
SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
LANG = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
REVISION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_DURATION = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*")

CATEGORY_FIELDS = {"id", "title", "description", "required", "exempt", "order"}
_CATEGORY_REQUIRED = ("id", "title", "description")
COOKIE_FIELDS = {
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
TOP_FIELDS = {"revision", "updated", "categories", "cookies"}


def check_keys(entry: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CatalogueError(
            f"{source}: {where}: unknown field `{unknown[0]}`; "
            f"expected one of: {', '.join(sorted(allowed))}."
        )


def check_unique(values: Iterable[str], source: str, kind: str, field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CatalogueError(f"{source}: {kind}: {field} {value!r} is declared twice.")
        seen.add(value)


def _entry(
    raw: Mapping[str, Any], source: str, label: str, allowed: set[str], required: Iterable[str]
) -> str:
    """Check an entry's field names and required fields; return where it is, for messages."""
    check_keys(raw, allowed, source, label)
    for name in required:
        if raw.get(name) in (None, ""):
            raise CatalogueError(f"{source}: {label}: missing field `{name}`.")
    return f"{source}: {label}"


def category(raw: Mapping[str, Any], source: str) -> Category:
    where = _entry(raw, source, f"category {raw.get('id')!r}", CATEGORY_FIELDS, _CATEGORY_REQUIRED)
    ident = raw["id"]
    if not isinstance(ident, str) or not SLUG.fullmatch(ident):
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


def cookie(raw: Mapping[str, Any], source: str, categories: set[str]) -> Cookie:
    where = _entry(raw, source, f"cookie {raw.get('name')!r}", COOKIE_FIELDS, _COOKIE_REQUIRED)
    name = raw["name"]
    if not isinstance(name, str) or not COOKIE_NAME.fullmatch(name) or name.strip("*") == "":
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
        not isinstance(domain, str) or len(domain) > 253 or not COOKIE_DOMAIN.fullmatch(domain)
    ):
        raise CatalogueError(
            f"{where}: field `domain` must be a host name such as `.example.org` "
            f"(letters, digits, `-` and `.`; RFC 6265), not {domain!r}."
        )
    path = raw.get("path")
    if path is not None and (not isinstance(path, str) or not COOKIE_PATH.fullmatch(path)):
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
        domain=domain,
        path=path,
    )


def revision(value: Any, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or not REVISION.fullmatch(str(value)):
        raise CatalogueError(
            f"{source}: field `revision` must be 1 to 32 letters, digits, `.`, `_` or `-`, "
            f"not {value!r}."
        )
    return str(value)


def updated(value: Any, source: str) -> datetime.date | None:
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


def _text(value: Any, where: str, field: str, *, optional: bool = False) -> Text:
    """A plain string, or a mapping of language code to string."""
    if isinstance(value, str) and value.strip():
        return {"*": value.strip()}
    if isinstance(value, dict) and value:
        result: dict[str, str] = {}
        for lang, text in value.items():
            if not isinstance(lang, str) or not LANG.fullmatch(lang):
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


def _duration(value: Any, text: Any, where: str) -> Duration:
    """`session`, a number of seconds, or `<n> <unit>` (e.g. `13 months`).

    A string of digits counts as seconds: the built-in catalogue's lifetimes are
    configuration values, filled in as strings.
    """
    override = _text(text, where, "duration_text", optional=True)
    if value == "session":
        return Duration.session(override)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return Duration.from_seconds(value, override)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    unit = match.group(2).rstrip("s") if match else ""
    if match is None or unit not in UNIT_SECONDS or int(match.group(1)) <= 0:
        raise CatalogueError(
            f"{where}: field `duration`: {value!r} is not a duration; expected `session`, "
            "a number of seconds, or a count and a unit such as `30 minutes`, `2 weeks`, "
            "`13 months` (units: seconds, minutes, hours, days, weeks, months, years)."
        )
    return Duration.of(int(match.group(1)), cast(Unit, unit), override)
